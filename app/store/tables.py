"""The tables: conversations, messages (both directions), state transitions, the outbox, pull cursors and
quality reviews."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import uuid_utils
from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A UUIDv7 (RFC 9562) as 32 hex digits: time first, so ids made later sort later and each insert
    lands at the end of the unique index, not on a random page. Storing a message costs about a
    quarter less CPU than with uuid4 ids (benchmarks/results/intake_ids.md)."""
    return uuid_utils.uuid7().hex


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class InlineString(TypeDecorator):
    """A string column that a partial index's condition names (`state != 'closed'`, `direction = 'in'`):
    a constant compared with it is written into the SQL, not bound.

    To use such an index SQLite's planner reads a bound value, and then plans the statement afresh
    every time a value is bound again: at every execution. So bound, the engine's read of pending
    messages cost 92 µs; with its constants written in, 24 (ad hoc, warm cache). PostgreSQL's
    generic plans of a prepared statement cannot use the index with a parameter at all."""

    impl = String
    cache_ok = True

    class comparator_factory(TypeDecorator.Comparator, String.Comparator):  # noqa: N801 (SQLAlchemy's name)
        def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
            return super().operate(op, *(_written(value) for value in other), **kwargs)


def _written(value: Any) -> Any:
    """A word such as 'closed' as SQL text; any other value stays bound (nothing to quote or escape)."""
    if isinstance(value, str) and value.isascii() and value.isidentifier():
        return text(f"'{value}'")
    return value


# None stored as SQL NULL rather than the JSON text 'null' (read back as None all the same): no
# encoding for the many messages without a profile or a decision.
NULLABLE_JSON = JSON(none_as_null=True)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}


def only_when_set(column: str) -> dict[str, Any]:
    """A partial index over the rows where `column` is set. A row written without it (a conversation
    not yet handed off, a reply with no platform id) touches one index fewer: on SQLite a B-tree page
    fewer to read and to write to the log in its transaction. A query comparing the column (=, <, >=,
    IN) implies the condition, so SQLite and PostgreSQL still use the index for it."""
    condition = text(f"{column} IS NOT NULL")
    return {"sqlite_where": condition, "postgresql_where": condition}


class ConversationState:
    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    CLOSED = "closed"


class Conversation(Base):
    """One customer of one account on one channel; at most one that is not closed."""

    __tablename__ = "conversations"
    __table_args__ = (
        Index(
            "uq_conversations_open_address",
            "channel",
            "account",
            "customer_id",
            unique=True,
            sqlite_where=text("state != 'closed'"),
            postgresql_where=text("state != 'closed'"),
        ),
        Index("ix_conversations_address", "channel", "account", "customer_id"),  # a customer's past ones too
        Index("ix_conversations_state", "state"),  # the assigner's and timers' queries, every second
        Index("ix_conversations_agent_id", "agent_id", **only_when_set("agent_id")),  # an agent's chats
        Index("ix_conversations_assigned_at", "assigned_at", **only_when_set("assigned_at")),  # throughput, for the ETA
        Index("ix_conversations_queued_at", "queued_at", **only_when_set("queued_at")),  # handoffs of a period
        Index("ix_conversations_closed_at", "closed_at", **only_when_set("closed_at")),  # closes (ratings) of a period
        Index("ix_conversations_created_at", "created_at"),  # those started in a period (daily report)
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(InlineString(16), default=ConversationState.BOT)
    customer: Mapped[dict[str, Any]] = mapped_column(default=dict)
    queue: Mapped[str | None] = mapped_column(String(64))  # set by a handoff
    level: Mapped[str | None] = mapped_column(String(2))  # L1 | L2 | L3
    priority: Mapped[int | None] = mapped_column(Integer)
    handoff_reasons: Mapped[list[str] | None] = mapped_column(JSON)
    agent_id: Mapped[str | None] = mapped_column(ForeignKey("agents.id", name="fk_conversations_agent_id"))
    queued_at: Mapped[datetime | None] = mapped_column()
    notified_at: Mapped[datetime | None] = mapped_column()  # the last place-in-queue notice
    assigned_at: Mapped[datetime | None] = mapped_column()
    first_agent_reply_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    disposition: Mapped[str | None] = mapped_column(String(64))
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1-5, the customer's answer after closing
    ticket: Mapped[bool] = mapped_column(default=False)  # handed off outside service hours: a 留言
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AgentRole:
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    OPS = "ops"


class Agent(Base):
    """A person who takes handed-off chats; the API token is stored only as its SHA-256."""

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default=AgentRole.AGENT)
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    capacity: Mapped[int] = mapped_column(Integer, default=5)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="offline")  # online | away | offline
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """A message in either direction; the id orders a conversation's messages by arrival."""

    __tablename__ = "messages"
    __table_args__ = (
        Index(  # an inbound message's platform id; replies have none
            "uq_messages_platform_id",
            "channel",
            "account",
            "platform_message_id",
            unique=True,
            **only_when_set("platform_message_id"),
        ),
        Index("ix_messages_address", "channel", "account", "customer_id", "id"),
        Index(
            "ix_messages_pending",
            "id",
            sqlite_where=text("direction = 'in' AND processed_at IS NULL"),
            postgresql_where=text("direction = 'in' AND processed_at IS NULL"),
        ),
        # a message's conversation is set when the engine decides it
        Index("ix_messages_conversation", "conversation_id", "id", **only_when_set("conversation_id")),
        Index("ix_messages_created_at", "created_at"),  # ops figures, gaps and reports read a period's messages
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The sentinel lets one flush insert many rows at once and still match each to its new id.
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_id, insert_sentinel=True)
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id"))
    channel: Mapped[str] = mapped_column(String(32))
    account: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(128))
    direction: Mapped[str] = mapped_column(InlineString(3))  # "in" | "out"
    sender: Mapped[str] = mapped_column(String(16))  # customer | bot | agent | system
    platform_message_id: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text)
    customer: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)
    sent_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    in_reply_to: Mapped[str | None] = mapped_column(String(128))  # the customer's platform message id
    faq_id: Mapped[str | None] = mapped_column(String(128))
    faq_score: Mapped[float | None] = mapped_column(Float)
    meta: Mapped[dict[str, Any] | None] = mapped_column(NULLABLE_JSON)  # the bot's decision: reasons, offers…
    error: Mapped[str | None] = mapped_column(Text)


class StateTransition(Base):
    __tablename__ = "state_transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id"), index=True)
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # Nothing else is unique before the insert: this counter lets one flush insert many rows together.
    _sentinel: Mapped[int | None] = orm_insert_sentinel()


class OutboxStatus:
    PENDING = "pending"
    DELIVERED = "delivered"
    NO_ROUTE = "no_route"  # the channel had nowhere to send it (web channel without a callback URL)
    FAILED = "failed"


class OutboxItem(Base):
    """A message waiting to be delivered; retried with backoff until it is or it expires."""

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_conversation", "conversation_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # A sentinel, as Message.public_id: one flush inserts a batch's rows together.
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True, insert_sentinel=True)
    conversation_id: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()

    # Given with a new reply, so one flush inserts the message and then this row with its id.
    message: Mapped[Message] = relationship(lazy="raise")


class SyncCursor(Base):
    """Where the last pull of a platform stream (WeCom KF: a KF account) stopped; a restart goes on from there."""

    __tablename__ = "sync_cursors"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class QualityReview(Base):
    """A supervisor's 质检 score of one closed conversation and the agent who handled it; one per reviewer."""

    __tablename__ = "quality_reviews"
    __table_args__ = (
        UniqueConstraint("conversation_id", "reviewer_id", name="uq_quality_reviews_conversation_reviewer"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", name="fk_quality_reviews_conversation"))
    agent_id: Mapped[str] = mapped_column(ForeignKey("agents.id", name="fk_quality_reviews_agent"), index=True)
    reviewer_id: Mapped[str] = mapped_column(ForeignKey("agents.id", name="fk_quality_reviews_reviewer"))
    politeness: Mapped[int] = mapped_column(Integer)  # 1-5 each
    accuracy: Mapped[int] = mapped_column(Integer)
    resolution: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
