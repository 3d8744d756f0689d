"""The common message model and the Adapter interface every platform implements.

Platform dictionaries never leave their adapter: the rest of kefu sees only these types.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar, Literal

Sender = Literal["bot", "agent", "system"]


@dataclass(frozen=True, slots=True)
class Address:
    """Where a conversation lives: one customer of one shop account on one channel."""

    channel: str
    account: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    name: str | None = None
    vip: bool = False
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer's message as the platform delivered it, deduplicated on `platform_message_id`."""

    address: Address
    platform_message_id: str
    text: str
    sent_at: datetime | None = None
    customer: CustomerProfile | None = None


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A message for the customer: a bot answer, an agent reply or a system notice."""

    message_id: str
    conversation_id: str
    address: Address
    sender: Sender
    text: str
    in_reply_to: str | None = None


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """A platform's HTTP callback, framework-free; header names are lower case."""

    method: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookReply:
    """What the platform must get back, so that it stops retrying."""

    status_code: int = 200
    body: bytes = b""
    media_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SyncHint:
    """A callback that carries no message, only word that `stream` has new ones (WeCom KF's kf_msg_or_event).

    `token` is the callback's short-lived permission to read them, when the platform gives one.
    """

    stream: str
    token: str | None = None


@dataclass(frozen=True, slots=True)
class PulledPage:
    """One page read from a stream: its messages, where the next read starts, and whether one is due now."""

    messages: list[InboundMessage]
    next_cursor: str | None
    has_more: bool


class Adapter(abc.ABC):
    """One platform: verify its callbacks, parse them into InboundMessages, send replies back."""

    name: ClassVar[str]
    account: str = "default"  # which of the shop's accounts on this platform; part of every Address
    max_body_bytes: int = 64 * 1024

    def handshake(self, request: WebhookRequest) -> WebhookReply | None:
        """Answer a URL-verification request, or None when `request` is not one."""
        return None

    @abc.abstractmethod
    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError unless the request provably comes from the platform."""

    @abc.abstractmethod
    def parse(self, request: WebhookRequest) -> list[InboundMessage]:
        """Turn a verified callback into messages; raise PayloadError/PayloadTooLarge."""

    def sync_hints(self, request: WebhookRequest) -> list[SyncHint]:
        """Streams a verified callback asks us to pull from (see PullAdapter); none for push platforms."""
        return []

    @abc.abstractmethod
    def acknowledge(self, *, accepted: int, duplicates: int) -> WebhookReply:
        """The answer the platform expects once the messages are safely stored."""

    @abc.abstractmethod
    async def send_text(self, message: OutboundMessage) -> bool:
        """Deliver a message; False when the channel has nowhere to send it. Raise DeliveryError."""

    async def on_handoff(self, address: Address, queue: str) -> None:
        """Called once a conversation was handed to people (queued); the platform may need to know.

        Raise PlatformCallError when the platform refuses; the caller retries a few times and logs.
        """
        return None  # most platforms have no session to hand over


class PullAdapter(Adapter):
    """A platform whose callbacks only say "pull": messages are read from a stream with a cursor.

    `sync_hints` names the streams a callback concerns; app.engine.pull runs `pull` until `has_more`
    is false, storing each page before its cursor.
    """

    @abc.abstractmethod
    def sync_hints(self, request: WebhookRequest) -> list[SyncHint]:
        """The streams to pull after this callback; raise PayloadError when it does not parse."""

    @abc.abstractmethod
    async def pull(self, stream: str, cursor: str | None, token: str | None) -> PulledPage:
        """Read the next page of `stream` after `cursor` (None: the oldest the platform keeps).

        Raise PlatformCallError when the platform refuses or cannot be reached.
        """
