"""Check a knowledge base for what the schema cannot see, each finding with its file and line.

Errors stop a reload (the last good version stays live); warnings are shown to ops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from faq.knowledge_base import Entry, KnowledgeBase
from faq.loader import FaqLoadError, FaqProblem, load_knowledge_base
from faq.matcher import Thresholds, match

_VARIABLE = re.compile(r"\{(\w+)\}")
BUILTIN_VARIABLES = frozenset({"shop_name"})


@dataclass(frozen=True)
class Finding:
    severity: Literal["error", "warning"]
    problem: FaqProblem

    def __str__(self) -> str:
        return f"{self.severity}: {self.problem}"


def lint_directory(directory: Path, *, now: datetime | None = None) -> list[Finding]:
    """Load `directory` and lint it; load errors come back as findings too."""
    try:
        kb = load_knowledge_base(directory)
    except FaqLoadError as exc:
        return [Finding("error", problem) for problem in exc.problems]
    return lint(kb, now=now)


def lint(
    kb: KnowledgeBase, *, now: datetime | None = None, thresholds: Thresholds = Thresholds(), collisions: bool = True
) -> list[Finding]:
    """All findings; `collisions` (matching every question against the rest) is the slow part."""
    now = now or datetime.now(UTC)
    findings = _repeated_questions(kb) + (_colliding_questions(kb, thresholds) if collisions else [])
    for entry in kb.entries.values():
        findings += _entry_findings(entry, kb, now)
    return findings


def _entry_findings(entry: Entry, kb: KnowledgeBase, now: datetime) -> list[Finding]:
    findings = []
    known = BUILTIN_VARIABLES | set(kb.variables)
    for name in _VARIABLE.findall(entry.answer):
        if name not in known:
            findings.append(_at(entry, "error", f"answer uses unknown variable {{{name}}}"))
    if entry.valid_until and entry.valid_until <= now:
        findings.append(
            _at(entry, "warning", f"expired on {entry.valid_until:%Y-%m-%d %H:%M}; customers no longer see it")
        )
    if entry.valid_from and entry.valid_until and entry.valid_from >= entry.valid_until:
        findings.append(_at(entry, "error", "valid_from is not before valid_until"))
    if len(entry.questions) < 2:
        findings.append(_at(entry, "warning", "only one question: add the ways customers really ask"))
    return findings


def _repeated_questions(kb: KnowledgeBase) -> list[Finding]:
    seen: dict[str, Entry] = {}
    findings = []
    for entry in kb.entries.values():
        for question in entry.questions:
            key = kb.index.parse(question).text if kb.index else question
            if key in seen and seen[key].id != entry.id:
                first = seen[key]
                message = f"question '{question}' is also in entry '{first.id}' ({first.source}:{first.line})"
                findings.append(_at(entry, "error", message))
            seen.setdefault(key, entry)
    return findings


def _colliding_questions(kb: KnowledgeBase, thresholds: Thresholds) -> list[Finding]:
    """A question that the matcher would answer with another entry confuses customers too."""
    findings = []
    for entry in kb.entries.values():
        for question in entry.questions:
            result = match(question, kb, thresholds=thresholds)
            if result.decision == "answer" and result.best.entry.id != entry.id:
                other = result.best.entry
                message = f"question '{question}' is answered by entry '{other.id}' (score {result.best.score:.2f})"
                findings.append(_at(entry, "warning", message))
    return findings


def _at(entry: Entry, severity: Literal["error", "warning"], message: str) -> Finding:
    return Finding(severity, FaqProblem(entry.source or Path("?"), entry.line, f"entry '{entry.id}': {message}"))
