"""Constants compared with a column a partial index's condition names are written into the SQL."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from app.engine.conversations import _pending_and_open
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
