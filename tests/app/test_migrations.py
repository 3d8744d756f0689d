"""The migrations build the schema the code declares: a model change without its migration fails here."""

from __future__ import annotations

import asyncio

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
