"""Measure the matcher on labelled cases (`query,expected_id`, `NONE` = must not answer)."""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from faq.knowledge_base import KnowledgeBase
from faq.matcher import MatchResult, Thresholds, match

NONE = "NONE"


@dataclass(frozen=True)
class Case:
    query: str
    expected_id: str


@dataclass(frozen=True)
class Outcome:
    case: Case
    result: MatchResult
    seconds: float

    @property
    def answered_id(self) -> str | None:
        return self.result.best.entry.id if self.result.decision == "answer" else None

    @property
    def correct(self) -> bool:
        if self.case.expected_id == NONE:
            return self.answered_id is None
        return self.answered_id == self.case.expected_id


@dataclass(frozen=True)
class Report:
    cases: int
    accuracy: float
    answer_precision: float
    coverage: float
    suggest_hit_rate: float
    none_precision: float
    answered: int
    wrong_answers: int
    p50_ms: float
    p99_ms: float

    def as_dict(self) -> dict:
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(self).items()}


def read_cases(path: Path) -> list[Case]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [Case(row["query"], row["expected_id"].strip()) for row in csv.DictReader(handle)]


def run(kb: KnowledgeBase, cases: list[Case], *, thresholds: Thresholds = Thresholds()) -> list[Outcome]:
    outcomes = []
    for case in cases:
        start = time.perf_counter()
        result = match(case.query, kb, thresholds=thresholds)
        outcomes.append(Outcome(case, result, time.perf_counter() - start))
    return outcomes


def report(outcomes: list[Outcome]) -> Report:
    answerable = [o for o in outcomes if o.case.expected_id != NONE]
    nones = [o for o in outcomes if o.case.expected_id == NONE]
    answered = [o for o in outcomes if o.answered_id is not None]
    right = [o for o in answered if o.answered_id == o.case.expected_id]
    missed = [o for o in answerable if o.answered_id is None]
    suggested_hits = [o for o in missed if any(s.entry.id == o.case.expected_id for s in o.result.suggestions)]
    millis = sorted(o.seconds * 1000 for o in outcomes) or [0.0]
    return Report(
        cases=len(outcomes),
        accuracy=_ratio(sum(o.correct for o in outcomes), len(outcomes)),
        answer_precision=_ratio(len(right), len(answered)),
        coverage=_ratio(len(right), len(answerable)),
        suggest_hit_rate=_ratio(len(suggested_hits), len(missed)),
        none_precision=_ratio(sum(o.correct for o in nones), len(nones)),
        answered=len(answered),
        wrong_answers=len(answered) - len(right),
        p50_ms=statistics.median(millis),
        p99_ms=millis[min(len(millis) - 1, int(len(millis) * 0.99))],
    )


def _ratio(part: int, whole: int) -> float:
    return part / whole if whole else 0.0
