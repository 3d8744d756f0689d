"""Core statements written by SQLAlchemy, run as plain sqlite3 calls with their COMMIT in one call.

Through an AsyncSession every statement is a round of SQLAlchemy's async machinery with its own
set-up (and, when SQLite ran on aiosqlite's thread, a trip there that waited its turn behind
everything else ready to run on a busy event loop). Here SQLAlchemy still compiles
each statement (once, "?" placeholders, exactly as it compiles it to execute it: `column_keys`
are the rows' keys), fills the columns' Python-side defaults and converts every value with its
column's own type, so the rows stored are the ones it would store; only the execution moves:
all of a batch's statements and the COMMIT run in one call on the connection
(app/store/sqlite_loop.py), and SQLAlchemy's own COMMIT then finds nothing left to do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import Column
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable, Select
from sqlalchemy.sql.selectable import SelectBase

T = TypeVar("T")


class SQLiteStatement:
    """One statement compiled for SQLite, and each row's parameters as SQLAlchemy would bind them."""

    def __init__(self, statement: Executable, dialect: Dialect, column_keys: Iterable[str]) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=list(column_keys))
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        # The dialect's own type (for SQLite, DateTime's text format), as SQLAlchemy binds it; the
        # generic type's bind_processor would leave a datetime to sqlite3's default adapter.
        binds = [compiled.binds[name].type.dialect_impl(dialect) for name in self._names]
        self._convert = tuple(bind.bind_processor(dialect) for bind in binds)
        selected = statement.selected_columns if isinstance(statement, SelectBase) else ()
        self._read = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected)
        # Values the caller may leave out: those written in the statement (`status == "pending"`), and
        # columns whose defaults SQLAlchemy would compute (new ids, times).
        self._defaults = {
            **{name: _constant(bind.effective_value) for name, bind in compiled.binds.items() if not bind.required},
            **{c.key: _generator(c, c.default) for c in compiled.insert_prefetch},
            **{c.key: _generator(c, c.onupdate) for c in compiled.update_prefetch},
        }

    def row(self, values: Sequence[Any]) -> tuple:
        """A row the statement read, each value converted by its column's type as SQLAlchemy reads it."""
        return tuple(convert(value) if convert else value for convert, value in zip(self._read, values, strict=True))

    def parameters(self, row: Mapping[str, Any]) -> tuple:
        """Raises TypeError or ValueError for a value the column's type cannot bind."""
        values = []
        for name, convert in zip(self._names, self._convert, strict=True):
            value = row[name] if name in row or name not in self._defaults else self._defaults[name]()
            values.append(convert(value) if convert else value)
        return tuple(values)


@lru_cache(maxsize=256)
def compiled_for(statement: Executable, dialect: Dialect, column_keys: frozenset[str]) -> SQLiteStatement:
    """Compiled once per statement, dialect and set of keys its rows give."""
    return SQLiteStatement(statement, dialect, sorted(column_keys))


async def write_and_commit(
    connection: AsyncConnection,
    statements: Sequence[tuple[Executable, list[dict]]],
    *,
    then_read: tuple[Select, dict] | None = None,
) -> list[tuple]:
    """Each (statement, rows) executed in order, then `then_read`'s query, then COMMIT, in one trip;
    ROLLBACK if one fails. The rows read, converted by their columns' types.

    The whole transaction: what the connection wrote before (an ORM flush) commits with these.
    """
    writes = []
    for statement, rows in statements:
        if rows:
            sql = compiled_for(statement, connection.dialect, frozenset(rows[0]))
            writes.append((sql.sql, [sql.parameters(row) for row in rows]))
    read = query = None
    if then_read is not None:
        statement, parameters = then_read
        read = compiled_for(statement, connection.dialect, frozenset(parameters))
        query = (read.sql, read.parameters(parameters))
    if not writes and query is None:
        return []
    said = [sql for sql, _ in writes] + ([query[0]] if query else [])  # named in an error, joined only then
    rows = await commit_in_one_trip(connection, _execute, writes, query, statements=said)
    return [read.row(values) for values in rows] if read is not None else []


async def commit_in_one_trip(
    connection: AsyncConnection, write: Callable[..., T], *args: Any, statements: Sequence[str]
) -> T:
    """`write(sqlite3_connection, *args)` then COMMIT, in one call; sqlite3's errors raised as
    SQLAlchemy raises them, naming `statements` (an OperationalError for a locked or full disk is an outage)."""
    driver = (await connection.get_raw_connection()).driver_connection
    with _raised_as_sqlalchemy_does(statements):
        return await driver.commit_in_one_trip(write, *args)


async def read_rows(connection: AsyncConnection, statement: SelectBase, parameters: Mapping[str, Any]) -> list[tuple]:
    """The query's rows, each value converted by its column's type, in the connection's transaction.

    On SQLite in one sqlite3 call: for the few rows of the engine's reads, SQLAlchemy's execution
    and result machinery cost several times what SQLite spent. Elsewhere through SQLAlchemy.
    """
    if connection.dialect.name != "sqlite":
        return [tuple(row) for row in await connection.execute(statement, parameters)]
    read = compiled_for(statement, connection.dialect, frozenset(parameters))
    driver = (await connection.get_raw_connection()).driver_connection
    with _raised_as_sqlalchemy_does([read.sql]):
        rows = await driver.read_in_one_trip(_fetch, read.sql, read.parameters(parameters))
    return [read.row(values) for values in rows]


@contextmanager
def _raised_as_sqlalchemy_does(statements: Sequence[str]) -> Iterator[None]:
    try:
        yield
    except sqlite3.Error as exc:
        raise DBAPIError.instance("\n".join(statements), None, exc, sqlite3.Error) from exc


def _fetch(connection: sqlite3.Connection, sql: str, parameters: tuple) -> list:
    return connection.execute(sql, parameters).fetchall()


def _execute(connection: sqlite3.Connection, writes: list[tuple[str, list[tuple]]], query: tuple | None) -> list:
    for sql, rows in writes:
        connection.executemany(sql, rows)
    return connection.execute(*query).fetchall() if query is not None else []


def _constant(value: Any) -> Callable[[], Any]:
    return lambda: value


def _generator(column: Column, default: Any) -> Callable[[], Any]:
    """A column's Python-side default as a function of nothing (kefu's defaults need no context)."""
    if default is None or not (default.is_scalar or default.is_callable):
        raise ValueError(f"column {column.key}: no Python-side default to fill in")
    return _constant(default.arg) if default.is_scalar else lambda: default.arg(None)
