"""What one batch of the conversation engine writes, as a few Core statements.

(The timers' wait notices of one tick use it too: in a promotion hundreds of chats wait.)

Every message of a batch marks itself processed, most add a reply and its delivery, and with new
customers each opens a conversation with its first state transition. The ORM's unit of work spent
about as much CPU on those rows as deciding the messages took (objects, relationships, new ids
fetched back); here each table's rows of the batch go in one executemany. A batch's conversations
are plain values too (OpenConversation): building an ORM object for each cost about as much as
the rest of opening it, and each change to one went through the ORM's instrumentation. A batch
runs on a plain connection (`write_on`); the timers' notices and broadcasts, on a session, have
their ORM changes flushed first (`write`).

The order keeps foreign keys whole: a session's flush (its ORM changes), then new conversations, the
changes to those read, their transitions, the messages' processed marks and the replies, then the
replies' outbox rows.
On SQLite those statements and the COMMIT run in one call (app/store/sqlite_statements.py): when
each was a trip to SQLite's thread, under load each trip waited its turn on a busy event loop, and
a batch took as long as its number of trips.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import MISSING, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
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


@dataclass(slots=True, eq=False)
class OpenConversation:
    """A conversation as a batch reads it and changes it: plain values, not an ORM object.

    The columns the engine reads or writes; change them with BatchWrites.change, which writes only
    the columns changed, as the ORM's flush did (another process may change the others meanwhile).
    """

    id: str
    channel: str
    account: str
    customer_id: str
    state: str
    customer: dict[str, Any] | None
    agent_id: str | None = None
    ticket: bool = False
    queue: str | None = None
    level: str | None = None
    priority: int | None = None
    handoff_reasons: list[str] | None = None
    queued_at: datetime | None = None
    satisfaction: int | None = None


CONVERSATION_COLUMNS = tuple(f.name for f in fields(OpenConversation))


class BatchWrites:
    """The rows one batch stages while it decides, written together by `write_on` (or `write`) before its commit."""

    def __init__(self) -> None:
        self._opened: dict[str, OpenConversation] = {}
        self._changes: dict[str, dict[str, Any]] = {}  # conversation id -> the columns changed
        self._transitions: list[dict[str, Any]] = []
        self._processed: list[PendingMessage] = []
        self._replies: list[dict[str, Any]] = []

    def open(self, conversation: OpenConversation, reason: str) -> None:
        """A new conversation, inserted as it stands when the batch is written."""
        self._opened[conversation.id] = conversation
        self._transitions.append(_transition(conversation.id, None, conversation.state, reason))

    def change(self, conversation: OpenConversation, **columns: Any) -> None:
        """Set columns of the conversation, and write them (a new one's are inserted as they stand)."""
        for name, value in columns.items():
            setattr(conversation, name, value)
        if conversation.id not in self._opened:
            self._changes.setdefault(conversation.id, {}).update(columns)

    def transition(self, conversation: OpenConversation, to_state: str, reason: str) -> None:
        self._transitions.append(_transition(conversation.id, conversation.state, to_state, reason))
        self.change(conversation, state=to_state)

    def processed(self, message: PendingMessage) -> None:
        """A customer's message read by the batch: its conversation, meta and mark as they stand now."""
        self._processed.append(message)

    def reply(self, conversation: Conversation | OpenConversation, **reply: Any) -> OutboundMessage:
        """Stage a message for the customer and its delivery, in order (see app/engine/replies.add_reply)."""
        row = reply_row(conversation, **reply)
        self._replies.append(row)
        return outbound_of(row)

    async def write(self, session: AsyncSession) -> None:
        """The session's changes (its flush), then the batch's statements: see `write_on`."""
        await session.flush()
        await self.write_on(await session.connection())

    async def write_on(self, connection: AsyncConnection) -> None:
        """The batch's last statements, in the order that keeps foreign keys whole (see above).

        On SQLite they run in one call with the COMMIT (app/store/sqlite_statements.py):
        nothing may follow them in the transaction; the caller's own COMMIT then has nothing to do.
        """
        statements = self._statements()
        if connection.dialect.name == "sqlite":
            await write_and_commit(connection, statements)
            return
        for statement, rows in statements:
            if rows:
                await connection.execute(statement, rows)

    def _statements(self) -> list[tuple[Executable, list[dict[str, Any]]]]:
        now = utcnow()
        deliveries = [
            {**{k: row[k] for k in ("public_id", "conversation_id", "channel")}, "now": now} for row in self._replies
        ]
        opened = [{name: getattr(c, name) for name in CONVERSATION_COLUMNS} for c in self._opened.values()]
        changes = ({"conversation": id_, **columns} for id_, columns in self._changes.items())
        return [
            (_INSERT_CONVERSATIONS, opened),
            *((_UPDATE_CONVERSATION, rows) for rows in _same_columns(changes)),
            (_INSERT_TRANSITIONS, self._transitions),
            (_MARK_PROCESSED, [_mark(m) for m in self._processed]),
            (_INSERT_MESSAGES, self._replies),
            (_INSERT_OUTBOX, deliveries),
        ]


def _transition(conversation_id: str, from_state: str | None, to_state: str, reason: str) -> dict[str, Any]:
    return {"conversation_id": conversation_id, "from_state": from_state, "to_state": to_state, "reason": reason}


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
_CONVERSATIONS = Conversation.__table__
_INSERT_CONVERSATIONS = insert(_CONVERSATIONS)  # executed with each row's dict: its keys are the columns
_UPDATE_CONVERSATION = update(_CONVERSATIONS).where(_CONVERSATIONS.c.id == bindparam("conversation"))  # and updated_at
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
