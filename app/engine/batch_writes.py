"""What one batch of the conversation engine writes, as a few Core statements after its ORM flush.

(The timers' wait notices of one tick use it too: in a promotion hundreds of chats wait.)

Every message of a batch marks itself processed, most add a reply and its delivery, and with new
customers each opens a conversation with its first state transition. The ORM's unit of work spent
about as much CPU on those rows as deciding the messages took (objects, relationships, new ids
fetched back); here each table's rows of the batch go in one executemany. What stays with the ORM
is what it is good at: the changes to conversations read in the batch, and the rare writes of
other helpers (a rating).

The order keeps foreign keys whole: the flush (changes to existing rows), then new conversations,
their transitions, the messages' processed marks and the replies, then the replies' outbox rows.
On SQLite those statements and the COMMIT run in one call (app/store/sqlite_statements.py): when
each was a trip to SQLite's thread, under load each trip waited its turn on a busy event loop, and
a batch took as long as its number of trips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from adapters.base import OutboundMessage
from app.engine.outbox import held_back_until
from app.engine.replies import outbound_of, reply_row
from app.store.sqlite_statements import write_and_commit
from app.store.tables import Conversation, Message, OutboxItem, StateTransition, UTCDateTime, utcnow


@dataclass(slots=True)
class PendingMessage:
    """A customer's message as a batch reads it: plain values, not an ORM object (its mark is written here)."""

    id: int
    public_id: str
    customer_id: str
    text: str
    customer: dict[str, Any] | None
    platform_message_id: str | None
    conversation_id: str | None
    meta: dict[str, Any] | None = None
    processed_at: datetime | None = None


PENDING_COLUMNS = tuple(f.name for f in fields(PendingMessage) if f.default is MISSING)  # what is read


class BatchWrites:
    """The rows one batch stages while it decides, written together by `write` before its commit."""

    def __init__(self) -> None:
        self._conversations: list[Conversation] = []
        self._transitions: list[dict[str, Any]] = []
        self._processed: list[PendingMessage] = []
        self._replies: list[dict[str, Any]] = []

    def open(self, conversation: Conversation, reason: str) -> None:
        """A new conversation (not in the session), inserted as it stands when the batch is written."""
        self._conversations.append(conversation)
        self._transitions.append(_transition(conversation.id, None, conversation.state, reason))

    def transition(self, conversation: Conversation, to_state: str, reason: str) -> None:
        self._transitions.append(_transition(conversation.id, conversation.state, to_state, reason))
        conversation.state = to_state

    def processed(self, message: PendingMessage) -> None:
        """A customer's message read by the batch: its conversation, meta and mark as they stand now."""
        self._processed.append(message)

    def reply(self, conversation: Conversation, **reply: Any) -> OutboundMessage:
        """Stage a message for the customer and its delivery, in order (see app/engine/replies.add_reply)."""
        row = reply_row(conversation, **reply)
        self._replies.append(row)
        return outbound_of(row)

    async def write(self, session: AsyncSession) -> None:
        """The batch's last statements, in the order that keeps foreign keys whole (see above).

        On SQLite they run in one call with the COMMIT (app/store/sqlite_statements.py):
        nothing may follow them in the transaction; the session's own COMMIT then has nothing to do.
        """
        await session.flush()
        statements = self._statements()
        connection = await session.connection()
        if connection.dialect.name == "sqlite":
            await write_and_commit(connection, statements)
            return
        for statement, rows in statements:
            if rows:
                await session.execute(statement, rows)

    def _statements(self) -> list[tuple[Executable, list[dict[str, Any]]]]:
        now = utcnow()
        deliveries = [
            {**{k: row[k] for k in ("public_id", "conversation_id", "channel")}, "now": now} for row in self._replies
        ]
        return [
            *((_INSERT_CONVERSATIONS, rows) for rows in _same_columns(_columns(c) for c in self._conversations)),
            (_INSERT_TRANSITIONS, self._transitions),
            (_MARK_PROCESSED, [_mark(m) for m in self._processed]),
            (_INSERT_MESSAGES, self._replies),
            (_INSERT_OUTBOX, deliveries),
        ]


def _transition(conversation_id: str, from_state: str | None, to_state: str, reason: str) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "from_state": from_state, "to_state": to_state, "reason": reason}


_CONVERSATION_COLUMNS = frozenset(c.key for c in Conversation.__table__.columns)


def _columns(conversation: Conversation) -> dict[str, Any]:
    """The columns set on the object; the others take their defaults in the insert."""
    return {k: v for k, v in inspect(conversation).dict.items() if k in _CONVERSATION_COLUMNS}


def _same_columns(rows: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by the columns they set: one executemany takes rows that all name the same ones."""
    groups: dict[frozenset[str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(frozenset(row), []).append(row)
    return list(groups.values())


def _mark(message: PendingMessage) -> dict[str, Any]:
    return {
        "message": message.id,
        "conversation_id": message.conversation_id,
        "processed_at": message.processed_at,
        "meta": message.meta,
    }


_MESSAGES = Message.__table__
_INSERT_CONVERSATIONS = insert(Conversation.__table__)  # executed with each row's dict: its keys are the columns
_INSERT_TRANSITIONS = insert(StateTransition.__table__)
_MARK_PROCESSED = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("message"))
    .values(
        conversation_id=bindparam("conversation_id"),
        processed_at=bindparam("processed_at"),
        meta=bindparam("meta"),
    )
)
_INSERT_MESSAGES = insert(_MESSAGES)
_INSERT_OUTBOX = insert(OutboxItem.__table__).values(
    message_id=select(_MESSAGES.c.id).where(_MESSAGES.c.public_id == bindparam("public_id")).scalar_subquery(),
    conversation_id=bindparam("conversation_id"),
    channel=bindparam("channel"),
    next_attempt_at=held_back_until(bindparam("conversation_id"), bindparam("now", type_=UTCDateTime())),
)
