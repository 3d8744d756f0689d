"""The sweep for unprocessed messages reads only them, however many messages the store holds."""

from __future__ import annotations

import pytest

from app.engine.processing import UNPROCESSED


@pytest.mark.sqlite_only
async def test_the_sweep_reads_the_partial_pending_index_not_every_message(store):
    compiled = UNPROCESSED.compile(dialect=store.dialect)
    async with store.connect() as connection:
        plan = (
            await connection.exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params.values()))
        ).all()
    assert [row[-1] for row in plan] == ["SCAN messages USING INDEX ix_messages_pending"]
