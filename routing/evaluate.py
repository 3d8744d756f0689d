"""Measure the emotion reader on labelled messages (`text,label`; labels calm|anxious|angry|threat)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from routing.emotion import EmotionReader, Reading

LABELS = ("calm", "anxious", "angry", "threat")
ESCALATED = {"angry", "threat"}


@dataclass(frozen=True)
class Case:
    text: str
    label: str


def read_cases(path: Path) -> list[Case]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return [Case(row["text"], row["label"].strip()) for row in csv.DictReader(handle)]


def coarse(reading: Reading) -> str:
    """The four-label view: aggrieved counts as angry, threat and safety risks as threat."""
    if reading.risk in ("threat", "safety"):
        return "threat"
    return "angry" if reading.label == "aggrieved" else reading.label


def report(reader: EmotionReader, cases: list[Case]) -> tuple[dict, list[tuple[Case, str]]]:
    """The figures, and every case with what it was read as."""
    results = [(case, coarse(reader.read(case.text))) for case in cases]
    pairs = Counter((case.label, got) for case, got in results)
    figures: dict = {"cases": len(cases)}
    for label in LABELS:
        predicted = sum(n for (_, got), n in pairs.items() if got == label)
        actual = sum(n for (want, _), n in pairs.items() if want == label)
        hit = pairs[(label, label)]
        figures[label] = {"precision": _ratio(hit, predicted), "recall": _ratio(hit, actual), "support": actual}
    figures["threat_recall"] = figures["threat"]["recall"]
    escalated = [got for case, got in results if case.label in ESCALATED]
    figures["escalation_recall"] = _ratio(sum(g in ESCALATED for g in escalated), len(escalated))
    calm = [got for case, got in results if case.label == "calm"]
    figures["calm_false_escalation"] = _ratio(sum(g in ESCALATED for g in calm), len(calm))
    return figures, results


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0
