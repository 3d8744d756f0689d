"""Accept an inbound message: store it once (unique on channel, account and platform id), then queue it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from adapters.base import Address, InboundMessage
from app.store.tables import Message

log = logging.getLogger(__name__)


class Intake:
    def __init__(self, sessions: async_sessionmaker, notify: Callable[[Address], None]) -> None:
        self._sessions = sessions
        self._notify = notify

    async def accept(self, message: InboundMessage) -> bool:
        """True when stored now, False when this platform message id was seen before."""
        address = message.address
        row = Message(
            channel=address.channel,
            account=address.account,
            customer_id=address.customer_id,
            direction="in",
            sender="customer",
            platform_message_id=message.platform_message_id,
            text=message.text,
            sent_at=message.sent_at,
            customer=asdict(message.customer) if message.customer else None,
        )
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError:
                await session.rollback()
                log.info("duplicate %s message %s", address.channel, message.platform_message_id)
                return False
        self._notify(address)
        return True
