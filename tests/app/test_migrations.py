"""The migrations build the schema the code declares: a model change without its migration fails here."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import make_url, text

from app.store.database import create_engine
from app.store.migrate import upgrade
from app.store.tables import Base


async def differences(database_url: str) -> list:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()


def test_migrating_to_head_gives_exactly_the_declared_tables_and_indexes(database_url):
    upgrade(database_url)

    assert asyncio.run(differences(database_url)) == []


async def partial_indexes(database_url: str) -> dict[str, bool]:
    """Each index of the migrated store, and whether it covers only some rows (has a WHERE)."""
    engine = create_engine(database_url)
    if engine.dialect.name == "sqlite":
        query = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
    else:
        query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
    try:
        async with engine.connect() as connection:
            rows = (await connection.execute(text(query))).all()
    finally:
        await engine.dispose()
    return {name: " WHERE " in definition.upper() for name, definition in rows}


def test_the_migrated_indexes_cover_the_rows_their_declarations_say(database_url):
    """Autogenerate's comparison leaves out an index's WHERE: a full index where a partial one is
    declared would pass it, and cost every insert a B-tree the partial one spares."""
    upgrade(database_url)
    dialect = make_url(database_url).get_backend_name()
    declared = {
        index.name: index.dialect_options[dialect]["where"] is not None
        for table in Base.metadata.tables.values()
        for index in table.indexes
    }

    migrated = asyncio.run(partial_indexes(database_url))

    assert {name: migrated.get(name) for name in declared} == declared
    assert declared["ix_conversations_closed_at"] and declared["uq_messages_platform_id"]
