"""SQL functions SQLite and PostgreSQL spell differently, as SQLAlchemy constructs compiled per dialect."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class epoch_minutes(FunctionElement):  # noqa: N801 (named as SQL functions are)
    """Minutes since the Unix epoch of a UTC time."""

    type = Float()
    inherit_cache = True


class epoch_ms(FunctionElement):  # noqa: N801
    """Whole milliseconds since the Unix epoch of a UTC time: integers, so buckets divide exactly."""

    type = BigInteger()
    inherit_cache = True


class rule_of(FunctionElement):  # noqa: N801
    """The text before the first ": " (all of it without one): a decision reason's rule, "faq:none: …" → "faq:none"."""

    type = String()
    inherit_cache = True


@compiles(epoch_minutes, "sqlite")
def _epoch_minutes_sqlite(element: epoch_minutes, compiler: Any, **kw: Any) -> str:
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 1440.0)"


@compiles(epoch_minutes, "postgresql")
def _epoch_minutes_postgresql(element: epoch_minutes, compiler: Any, **kw: Any) -> str:
    return f"(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) / 60.0)"


@compiles(epoch_ms, "sqlite")
def _epoch_ms_sqlite(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    return f"CAST(round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400000.0) AS INTEGER)"


@compiles(epoch_ms, "postgresql")
def _epoch_ms_postgresql(element: epoch_ms, compiler: Any, **kw: Any) -> str:
    return f"CAST(round(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) * 1000) AS BIGINT)"


@compiles(rule_of, "sqlite")
def _rule_of_sqlite(element: rule_of, compiler: Any, **kw: Any) -> str:
    text = compiler.process(element.clauses, **kw)
    return f"substr({text}, 1, instr({text} || ': ', ': ') - 1)"


@compiles(rule_of, "postgresql")
def _rule_of_postgresql(element: rule_of, compiler: Any, **kw: Any) -> str:
    return f"split_part({compiler.process(element.clauses, **kw)}, ': ', 1)"
