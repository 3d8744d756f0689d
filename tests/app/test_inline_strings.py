"""Constants compared with a column a partial index's condition names are written into the SQL."""

from __future__ import annotations

import _sqlite3
import ctypes
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from app.engine.conversations import _OLDEST_PENDING, _pending_and_open
from app.engine.processing import UNPROCESSED
from app.store.tables import Base, Conversation, ConversationState, InlineString, Message

DIALECTS = [sqlite.dialect(), postgresql.dialect()]


@pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
def test_a_constant_is_written_into_the_statement_not_bound(dialect):
    statement = select(Message.id).where(Message.direction == "in", Message.customer_id == "u1")
    compiled = statement.compile(dialect=dialect)

    assert "messages.direction = 'in'" in str(compiled)
    assert list(compiled.params.values()) == ["u1"]  # other columns' values stay bound


def test_a_value_that_would_need_quoting_stays_bound():
    compiled = select(Conversation.id).where(Conversation.state == "it's").compile(dialect=sqlite.dialect())

    assert "conversations.state = ?" in str(compiled)
    assert list(compiled.params.values()) == ["it's"]


def test_the_engines_read_of_pending_messages_binds_only_the_addresses_and_the_count():
    """The read every engine batch makes: SQLite planned it afresh at each execution before."""
    compiled = _pending_and_open(2).compile(dialect=sqlite.dialect())

    assert "messages.direction = 'in'" in str(compiled)
    assert f"conversations.state != '{ConversationState.CLOSED}'" in str(compiled)
    assert sorted(compiled.params) == ["account", "channel", "customer_0", "customer_1", "place_1"]


@pytest.mark.parametrize(
    "statement",
    [_pending_and_open(1), _pending_and_open(3), _OLDEST_PENDING, UNPROCESSED],
    ids=["engine's read of 1", "engine's read of 3", "oldest pending", "sweep"],
)
def test_sqlite_plans_the_engines_reads_once_not_at_every_execution(tmp_path, statement):
    assert _replanned(tmp_path / "k.db", statement, executions=3) == 0


def _replanned(path: Path, statement: Executable, executions: int) -> int:
    """SQLite's own count of the statement's new plans made after values were bound again
    (SQLITE_STMTSTATUS_REPREPARE), through the SQLite library Python's sqlite3 module runs on."""
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    engine.dispose()
    api = ctypes.CDLL(_sqlite3.__file__)  # its SQLite's functions, linked in or loaded with it
    api.sqlite3_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
    api.sqlite3_prepare_v2.argtypes = [
        ctypes.c_void_p,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_void_p),
        ctypes.c_void_p,
    ]
    api.sqlite3_bind_text.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p]
    api.sqlite3_stmt_status.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
    for name in ("sqlite3_step", "sqlite3_reset", "sqlite3_finalize", "sqlite3_close"):
        getattr(api, name).argtypes = [ctypes.c_void_p]
    compiled = statement.compile(dialect=sqlite.dialect())
    values = [f"value {n}".encode() for n in range(len(compiled.params))]
    db, prepared = ctypes.c_void_p(), ctypes.c_void_p()
    assert api.sqlite3_open(str(path).encode(), ctypes.byref(db)) == 0
    try:
        assert api.sqlite3_prepare_v2(db, str(compiled).encode(), -1, ctypes.byref(prepared), None) == 0
        for _ in range(executions):
            for place, value in enumerate(values, start=1):
                api.sqlite3_bind_text(prepared, place, value, -1, ctypes.c_void_p(-1))  # SQLITE_TRANSIENT
            while api.sqlite3_step(prepared) == 100:  # SQLITE_ROW
                pass
            api.sqlite3_reset(prepared)
        return api.sqlite3_stmt_status(prepared, 5, 0)  # SQLITE_STMTSTATUS_REPREPARE
    finally:
        api.sqlite3_finalize(prepared)
        api.sqlite3_close(db)


def test_every_column_a_partial_index_compares_with_a_constant_writes_constants_in():
    """A new partial index such as `status = 'pending'` needs its column to be an InlineString."""
    compared = {
        (table.name, column)
        for table in Base.metadata.tables.values()
        for index in table.indexes
        if (where := index.dialect_options["sqlite"]["where"]) is not None
        for column in re.findall(r"(\w+)\s*(?:=|!=|<>)\s*'", str(where))
    }

    assert compared == {("conversations", "state"), ("messages", "direction")}
    for table, column in compared:
        assert isinstance(Base.metadata.tables[table].c[column].type, InlineString), (table, column)
