"""One instance at a time per conversation, so its messages are handled once and in order.

On PostgreSQL a transaction-scoped advisory lock on the conversation's address does it: held
while one message is processed, released at commit or when a crashed instance's connection
drops, so another instance can carry on at once. SQLite serves one process, whose dispatcher
already runs one worker per conversation, so there is nothing to take.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.base import Address


class ConversationBusy(Exception):
    """Another instance holds the conversation; its worker will pick up what is pending."""

    def __init__(self, address: Address) -> None:
        super().__init__(f"{address.channel} conversation busy in another instance")
        self.address = address


def lock_key(address: Address) -> int:
    """A stable signed 64-bit key for the address (pg advisory locks take a bigint)."""
    digest = hashlib.blake2b(f"{address.channel}\0{address.account}\0{address.customer_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


async def hold_conversation(connection: AsyncConnection, address: Address) -> bool:
    """Take the conversation for this transaction; False when another instance has it."""
    if connection.dialect.name != "postgresql":
        return True
    return bool(await connection.scalar(select(func.pg_try_advisory_xact_lock(lock_key(address)))))
