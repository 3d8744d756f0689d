"""SQL functions SQLite and PostgreSQL spell differently, as SQLAlchemy constructs compiled per dialect.

Each construct takes one argument; its SQL per dialect is a template where `{x}` is that argument.
"""

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


def _spelled(construct: type[FunctionElement], **templates: str) -> None:
    for dialect, template in templates.items():

        def render(element: FunctionElement, compiler: Any, template: str = template, **kw: Any) -> str:
            return template.format(x=compiler.process(element.clauses, **kw))

        compiles(construct, dialect)(render)


_spelled(
    epoch_minutes,
    sqlite="((julianday({x}) - 2440587.5) * 1440.0)",
    postgresql="(EXTRACT(EPOCH FROM {x}) / 60.0)",
)
_spelled(
    epoch_ms,
    sqlite="CAST(round((julianday({x}) - 2440587.5) * 86400000.0) AS INTEGER)",
    postgresql="CAST(round(EXTRACT(EPOCH FROM {x}) * 1000) AS BIGINT)",
)
_spelled(rule_of, sqlite="substr({x}, 1, instr({x} || ': ', ': ') - 1)", postgresql="split_part({x}, ': ', 1)")
