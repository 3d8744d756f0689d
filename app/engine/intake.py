"""Accept an inbound message: store it once (unique on channel, account and platform id), then queue it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from adapters.base import Address, InboundMessage
from app import metrics
from app.store.tables import Message

log = logging.getLogger(__name__)

# Built once (SQLAlchemy then reuses its compiled form as is); a plain INSERT, as nothing is read back.
_STORE = insert(Message.__table__)


class Intake:
    def __init__(self, sessions: async_sessionmaker, notify: Callable[[Address], None]) -> None:
        self._sessions = sessions
        self._notify = notify

    async def accept(self, message: InboundMessage) -> bool:
        """True when stored now, False when this platform message id was seen before."""
        address = message.address
        row = {
            "channel": address.channel,
            "account": address.account,
            "customer_id": address.customer_id,
            "direction": "in",
            "sender": "customer",
            "platform_message_id": message.platform_message_id,
            "text": message.text,
            "sent_at": message.sent_at,
            "customer": asdict(message.customer) if message.customer else None,
        }
        try:
            async with self._sessions.begin() as session:
                await session.execute(_STORE, row)
        except IntegrityError:
            log.info("duplicate %s message %s", address.channel, message.platform_message_id)
            return False
        metrics.MESSAGES_IN.labels(address.channel).inc()
        self._notify(address)
        return True
