"""Transcripts: conversations written from the store as JSONL (`kefu export`), read back for `kefu replay`.

One JSON object per conversation:

    {"conversation_id", "channel", "account", "customer_id", "started_at",
     "messages": [{"sender": "customer"|"bot"|"agent"|"system", "text", "at", "faq_id"?, "decision"?}],
     "handoff": {"queue", "level", "reasons"} | null}

Texts and reasons are masked (app/privacy.py) unless asked for raw. A replay also reads a TSV of customer
turns with a header: a `text` column, optionally a session column (`session_id`, `context_id`…) that groups
lines into conversations and a turn column (`turn`, `turn_in_context`) that orders them.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from app.privacy import mask
from app.store.tables import Conversation, Message

SESSION_COLUMNS = ("session_id", "context_id", "conversation_id", "session")
TURN_COLUMNS = ("turn", "turn_in_context")
BATCH = 200


class TranscriptError(ValueError):
    """A transcript file that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class CustomerTurn:
    text: str
    at: datetime | None = None


@dataclass(frozen=True)
class Transcript:
    """What a replay needs of a conversation: its customer's messages, in order."""

    conversation_id: str
    channel: str | None
    turns: tuple[CustomerTurn, ...]


# ---------------------------------------------------------------- export


async def export_transcripts(
    sessions: async_sessionmaker, since: datetime, until: datetime, *, raw: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Conversations started in [since, until), oldest first, as transcript objects."""
    hide = (lambda text: text) if raw else mask
    async with sessions() as session:
        conversations = (
            await session.scalars(
                select(Conversation)
                .where(Conversation.created_at >= since, Conversation.created_at < until)
                .order_by(Conversation.created_at, Conversation.id)
            )
        ).all()
        for start in range(0, len(conversations), BATCH):
            batch = conversations[start : start + BATCH]
            messages = await session.scalars(
                select(Message).where(Message.conversation_id.in_([c.id for c in batch])).order_by(Message.id)
            )
            by_conversation: dict[str, list[Message]] = defaultdict(list)
            for message in messages:
                by_conversation[message.conversation_id].append(message)
            for conversation in batch:
                yield transcript_object(conversation, by_conversation[conversation.id], hide)


def transcript_object(
    conversation: Conversation, messages: Sequence[Message], hide: Callable[[str], str]
) -> dict[str, Any]:
    handoff = None
    if conversation.queue:
        reasons = [hide(r) for r in conversation.handoff_reasons or ()]
        handoff = {"queue": conversation.queue, "level": conversation.level, "reasons": reasons}
    return {
        "conversation_id": conversation.id,
        "channel": conversation.channel,
        "account": conversation.account,
        "customer_id": conversation.customer_id,
        "started_at": conversation.created_at.isoformat(),
        "messages": [_message_object(m, hide) for m in messages],
        "handoff": handoff,
    }


def _message_object(message: Message, hide: Callable[[str], str]) -> dict[str, Any]:
    item: dict[str, Any] = {"sender": message.sender, "text": hide(message.text), "at": message.created_at.isoformat()}
    if message.faq_id:
        item["faq_id"] = message.faq_id
    meta = message.meta or {}
    if message.direction == "out" and meta.get("action"):
        decision = {"action": meta["action"], "reasons": [hide(r) for r in meta.get("reasons", ())]}
        if meta.get("offered"):
            decision["offered"] = list(meta["offered"])
        if meta.get("handoff"):
            decision["queue"] = meta["handoff"]["queue"]
        item["decision"] = decision
    return item


# ---------------------------------------------------------------- reading


def read_transcripts(path: Path) -> list[Transcript]:
    """A JSONL export (first line starts with "{") or a TSV of customer turns with a header."""
    with path.open(encoding="utf-8") as file:
        first = file.readline()
    if first.lstrip().startswith("{"):
        return _read_jsonl(path)
    return _read_tsv(path)


def _read_jsonl(path: Path) -> list[Transcript]:
    transcripts = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                transcripts.append(_from_object(data, f"line {number}"))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise TranscriptError(f"{path}:{number}: not a transcript object ({exc})") from None
    return transcripts


def _from_object(data: dict[str, Any], fallback_id: str) -> Transcript:
    turns = tuple(
        CustomerTurn(m["text"], datetime.fromisoformat(m["at"]) if m.get("at") else None)
        for m in data["messages"]
        if m.get("sender") == "customer"
    )
    return Transcript(str(data.get("conversation_id") or fallback_id), data.get("channel"), turns)


def _read_tsv(path: Path) -> list[Transcript]:
    with path.open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        columns = reader.fieldnames or []
        if "text" not in columns:
            raise TranscriptError(f"{path}: neither JSONL nor a TSV with a 'text' column (header: {columns})")
        session = next((c for c in SESSION_COLUMNS if c in columns), None)
        turn = next((c for c in TURN_COLUMNS if c in columns), None)
        sessions: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for number, row in enumerate(reader, start=2):
            key = row[session] if session else f"line {number}"
            order = _turn_number(row[turn], path, number) if turn else 0
            sessions[key].append((order, row["text"] or ""))
    return [
        Transcript(key, None, tuple(CustomerTurn(text) for _, text in sorted(rows, key=lambda r: r[0])))
        for key, rows in sessions.items()
    ]


def _turn_number(value: str | None, path: Path, line: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise TranscriptError(f"{path}:{line}: turn {value!r} is not a number") from None
