"""The routing rules file ops edit: queues, intents, escalation, VIPs, thresholds, templates.

Loaded into validated, immutable models; every mistake is reported with its file and line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from routing.lexicon import known_lists
from routing.placeholders import as_written, filled_with

Level = Literal["L1", "L2", "L3"]
Word = Annotated[str, BeforeValidator(str)]  # ops write 618 or 12315 unquoted
IDLE_DISPOSITION = "超时关闭"
HOURS = r"^([01]\d|2[0-3]):[0-5]\d-(([01]\d|2[0-3]):[0-5]\d|24:00)$"
INTENTS = (
    "presale",
    "promotion",
    "payment",
    "order_change",
    "logistics",
    "aftersale",
    "invoice",
    "account",
    "complaint",
    "human",
)


class RulesError(ValueError):
    """The rules file was refused; one "file:line: message" per problem."""

    def __init__(self, path: Path, problems: list[tuple[int | None, str]]) -> None:
        super().__init__("\n".join(f"{path}:{line}: {text}" if line else f"{path}: {text}" for line, text in problems))
        self.path, self.problems = path, problems


# What each customer text is filled with (routing/placeholders.py); a mistake is refused with its line.
HandoffText = filled_with("queue_name")  # the queue's name, e.g. 售后客服
HoursText = filled_with("hours")  # e.g. 09:00-23:00
AgentText = filled_with("agent_name")
PositionText = filled_with("position", "eta")  # chats ahead (1 or more), minutes to wait
NextText = filled_with("eta")  # nobody ahead
CannedText = filled_with("customer_name", "order_id", "agent_name")
Plain = as_written("queue_name", "hours", "agent_name", "position", "eta", "customer_name", "order_id")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Queue(_Model):
    id: str = Field(pattern=r"^[a-z0-9_\-]+$")
    name: str
    skills: tuple[str, ...] = ()
    level: Level = "L1"
    overflow_to: str | None = None  # where a chat moves after waiting `overflow_after_minutes`
    overflow_after_minutes: float = Field(default=5, gt=0)
    hours: str | None = Field(default=None, pattern=HOURS)  # this queue's service hours; default service.hours


class Service(_Model):
    """Queues and agents at work: who is picked, and the timers that keep chats moving."""

    selector: Literal["least_busy", "round_robin"] = "least_busy"
    hours: str = Field(default="00:00-24:00", pattern=HOURS)  # service hours in shop time (UTC+8)
    aging_per_minute: float = Field(default=1.0, ge=0)  # priority points a chat gains per minute waited
    minutes_per_chat: float = Field(default=3, gt=0)  # ETA fallback when a queue has no recent history
    notice_minutes: float = Field(default=2, gt=0)  # how often waiting customers hear their place
    no_reply_minutes: float = Field(default=3, gt=0)  # an assigned chat without an agent reply is re-queued
    sticky_days: float = Field(default=7, ge=0)  # a returning customer gets their last agent if free
    idle_close_minutes: float = Field(default=15, gt=0)  # a chat with a person closes after this long idle
    dispositions: tuple[str, ...] = ("物流", "质量", "价格", "服务态度", "退换货", "咨询", "超时关闭", "其他")


class Escalation(_Model):
    angry_queue: str
    threat_queue: str
    safety_queue: str
    unresolved_turns: int = Field(default=2, ge=1)


class Vip(_Model):
    tags: tuple[Word, ...] = ()
    queue: str | None = None
    priority_boost: int = 20


class Thresholds(_Model):
    answer: float = Field(default=0.35, ge=0, le=1)
    lead: float = Field(default=1.3, ge=1)
    suggest: float = Field(default=0.2, ge=0, le=1)


class PromotionMode(_Model):
    enabled: bool = False
    thresholds: Thresholds = Thresholds(answer=0.45, lead=1.5, suggest=0.25)
    wait_notice_minutes: int = Field(default=5, ge=1)
    banner: Plain = ""  # an announcement put before the bot's first reply of every conversation
    callback_offer_minutes: int | None = Field(default=20, ge=1)  # past this ETA, waiting customers may 留言


class Templates(_Model):
    handoff: HandoffText
    empathy: HandoffText
    senior: HandoffText
    safety: HandoffText
    reassurance: Plain
    clarify: Plain
    unresolved: HandoffText
    after_answer: HandoffText
    still_queued: Plain
    out_of_hours: HoursText
    assigned: AgentText
    position: PositionText
    next_in_line: NextText = "您是下一位，预计等待约{eta}分钟，请耐心稍候～"
    nobody_online: Plain = "客服暂时都不在线，您可以回复「留言」留下问题，客服上线后会第一时间回复您～"
    requeued: Plain
    closed: Plain
    rated: Plain
    callback_offer: Plain = "当前咨询人数较多，您也可以回复「留言」留下问题，客服会按顺序尽快回复您，无需在线等待～"
    callback_booked: Plain = "已为您登记留言，客服会按顺序尽快回复您，请留意消息～"


class CannedReply(_Model):
    """A 快捷回复: agents type /shortcut; {customer_name}, {order_id} and {agent_name} are filled in."""

    shortcut: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    text: CannedText
    intents: tuple[str, ...] = ()  # suggested for chats with these intents
    emotions: tuple[str, ...] = ()  # suggested for chats with these emotions (angry, anxious…)


class Rules(_Model):
    queues: tuple[Queue, ...]
    default_queue: str
    intent_queues: dict[str, str]
    handoff_intents: tuple[str, ...] = ()
    escalation: Escalation
    priorities: dict[Level, int] = {"L1": 10, "L2": 50, "L3": 100}
    vip: Vip = Vip()
    thresholds: Thresholds = Thresholds()
    promotion_mode: PromotionMode = PromotionMode()
    intent_keywords: dict[str, tuple[Word, ...]] = {}
    category_intents: dict[str, str] = {}
    lexicon: dict[str, tuple[Word, ...]] = {}
    service: Service = Service()
    canned_replies: tuple[CannedReply, ...] = ()
    templates: Templates

    @model_validator(mode="after")
    def _references_exist(self) -> Rules:
        """Names must point at defined queues, intents and word lists; the message starts with the key."""
        queues = {q.id for q in self.queues}
        named = {
            "default_queue": self.default_queue,
            **{f"intent_queues.{intent}": queue for intent, queue in self.intent_queues.items()},
            "escalation.angry_queue": self.escalation.angry_queue,
            "escalation.threat_queue": self.escalation.threat_queue,
            "escalation.safety_queue": self.escalation.safety_queue,
            **({"vip.queue": self.vip.queue} if self.vip.queue else {}),
            **{f"queues.{n}.overflow_to": q.overflow_to for n, q in enumerate(self.queues) if q.overflow_to},
        }
        for key, queue in named.items():
            if queue not in queues:
                raise ValueError(f"{key}: unknown queue '{queue}' (known: {', '.join(sorted(queues))})")
        intents = {
            **{f"intent_queues.{i}": i for i in self.intent_queues},
            **{f"handoff_intents.{n}": i for n, i in enumerate(self.handoff_intents)},
            **{f"intent_keywords.{i}": i for i in self.intent_keywords},
            **{f"category_intents.{c}": i for c, i in self.category_intents.items()},
        }
        for key, intent in intents.items():
            if intent not in INTENTS:
                raise ValueError(f"{key}: unknown intent '{intent}' (known: {', '.join(INTENTS)})")
        for name in self.lexicon:
            if name not in known_lists():
                raise ValueError(f"lexicon.{name}: unknown word list (known: {', '.join(sorted(known_lists()))})")
        if IDLE_DISPOSITION not in self.service.dispositions:
            raise ValueError(f"service.dispositions: must include {IDLE_DISPOSITION} (used when idle chats close)")
        return self

    def queue(self, queue_id: str) -> Queue:
        return next(q for q in self.queues if q.id == queue_id)

    def hours(self, queue_id: str) -> str:
        return self.queue(queue_id).hours or self.service.hours

    @property
    def active_thresholds(self) -> Thresholds:
        return self.promotion_mode.thresholds if self.promotion_mode.enabled else self.thresholds

    @property
    def notice_minutes(self) -> float:
        """Wait notices come more often in promotion mode."""
        if self.promotion_mode.enabled:
            return min(self.service.notice_minutes, self.promotion_mode.wait_notice_minutes)
        return self.service.notice_minutes


def load_rules(path: Path) -> Rules:
    """Parse and validate the rules file; raise RulesError naming the line of every mistake."""
    try:
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise RulesError(path, [(None, "rules file does not exist")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesError(path, [(mark.line + 1 if mark else None, f"not valid YAML: {exc}")]) from None
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        raise RulesError(path, [_problem(root, error) for error in exc.errors()]) from None


def _problem(root: yaml.Node | None, error: dict) -> tuple[int | None, str]:
    """(line, "key: message") for one validation error; cross-reference errors name their key first."""
    message = error["msg"].removeprefix("Value error, ")
    loc = tuple(error["loc"])
    if not loc and ": " in message:
        loc = tuple(int(p) if p.isdigit() else p for p in message.split(": ", 1)[0].split("."))
        return _line(root, loc), message
    where = ".".join(str(p) for p in loc)
    return _line(root, loc), f"{where}: {message}" if where else message


def _line(node: yaml.Node | None, loc: tuple) -> int | None:
    """The deepest line the error location reaches in the YAML tree."""
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line
