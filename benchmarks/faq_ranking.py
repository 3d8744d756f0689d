"""Where FAQ accuracy is lost: in ranking (the right entry is not first) or in deciding (it is, but
kefu declines). Written to benchmarks/results/faq_ranking.md.

    python -m benchmarks.faq_ranking --set NAME KB CASES [--set ...] [--out FILE]

For each evaluation set: how often the expected entry is ranked first and among the first three,
by kefu's index and, in the same run, by two plain rankers (rapidfuzz `WRatio` over every
question, the naive baseline; BM25 over character unigrams and bigrams); then the accuracy and
answer precision kefu would reach with other answer thresholds (a grid, answerable and NONE
cases alike), which bounds what any threshold could do with this ranking.
"""

from __future__ import annotations

import argparse
import math
import platform
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rapidfuzz import fuzz, process

from faq.evaluate import Case, read_cases
from faq.knowledge_base import KnowledgeBase
from faq.loader import load_knowledge_base
from faq.matcher import Thresholds, match
from faq.normalise import normalise

ROOT = Path(__file__).resolve().parent.parent
Ranker = Callable[[str], list[str]]  # a query's entry ids, best first
ANSWER_GRID = (0.25, 0.35, 0.45, 0.55, 0.65)
LEAD_GRID = (1.0, 1.15, 1.3, 1.5)


@dataclass(frozen=True)
class Ranked:
    """kefu's candidates for one case: entry ids and scores, best first."""

    case: Case
    ids: list[str]
    scores: list[float]


def naive_ranker(kb: KnowledgeBase) -> Ranker:
    owners = [e.id for e in kb.entries.values() for _ in e.questions]
    questions = [q for e in kb.entries.values() for q in e.questions]

    def rank(query: str) -> list[str]:
        found = process.extract(query, questions, scorer=fuzz.WRatio, limit=30)
        return list(dict.fromkeys(owners[i] for _, _, i in found))

    return rank


def char_bm25_ranker(kb: KnowledgeBase, k1: float = 1.2) -> Ranker:
    def grams(text: str) -> list[str]:
        chars = "".join(normalise(text).text.split())
        return list(chars) + [chars[i : i + 2] for i in range(len(chars) - 1)]

    entries = list(kb.entries.values())
    bags = [Counter(g for q in e.questions for g in grams(q)) for e in entries]
    frequency = Counter(g for bag in bags for g in bag)
    idf = {g: math.log(1 + (len(bags) - n + 0.5) / (n + 0.5)) for g, n in frequency.items()}

    def rank(query: str) -> list[str]:
        wanted = set(grams(query))
        scores = np.array([sum(idf[g] * b[g] * (k1 + 1) / (b[g] + k1) for g in wanted if g in b) for b in bags])
        return [entries[i].id for i in np.argsort(-scores)[:3]]

    return rank


def kefu_ranked(kb: KnowledgeBase, cases: list[Case]) -> list[Ranked]:
    never = Thresholds(answer=2.0, suggest=0.0, suggestions=3)  # rank only: every candidate, no decision
    ranked = []
    for case in cases:
        candidates = match(case.query, kb, thresholds=never).candidates
        ranked.append(Ranked(case, [c.entry.id for c in candidates], [c.score for c in candidates]))
    return ranked


def rank_hits(ids_per_case: list[list[str]], cases: list[Case]) -> tuple[float, float]:
    answerable = [(ids, c) for ids, c in zip(ids_per_case, cases, strict=True) if c.expected_id != "NONE"]
    first = sum(bool(ids) and ids[0] == c.expected_id for ids, c in answerable)
    three = sum(c.expected_id in ids[:3] for ids, c in answerable)
    return first / len(answerable), three / len(answerable)


def decide_again(ranked: list[Ranked], answer: float, lead: float) -> tuple[float, float]:
    """Accuracy and answer precision had kefu answered with these thresholds."""
    right = wrong = declined_none = 0
    for r in ranked:
        best = r.scores[0] if r.scores else 0.0
        runner_up = r.scores[1] if len(r.scores) > 1 else 0.0
        if r.ids and best >= answer and best >= lead * runner_up:
            right += r.ids[0] == r.case.expected_id
            wrong += r.ids[0] != r.case.expected_id
        else:
            declined_none += r.case.expected_id == "NONE"
    return (right + declined_none) / len(ranked), right / max(right + wrong, 1)


def report_set(name: str, kb_path: Path, cases_path: Path) -> list[str]:
    kb, cases = load_knowledge_base(kb_path), read_cases(cases_path)
    ranked = kefu_ranked(kb, cases)
    naive, bigrams = naive_ranker(kb), char_bm25_ranker(kb)
    rows = {
        "kefu (index + rapidfuzz refinement)": [r.ids for r in ranked],
        "naive: `WRatio` over every question": [naive(c.query) for c in cases],
        "BM25 over characters and bigrams": [bigrams(c.query) for c in cases],
    }
    answerable = sum(c.expected_id != "NONE" for c in cases)
    lines = [
        f"## {name}",
        "",
        f"`{kb_path.name}` ({len(kb.entries)} entries), "
        f"`{cases_path.name}` ({len(cases)} cases, {answerable} answerable)",
        "",
        "| ranker | right entry first | among the first three |",
        "|---|---|---|",
    ]
    for ranker, ids in rows.items():
        first, three = rank_hits(ids, cases)
        lines.append(f"| {ranker} | {first:.3f} | {three:.3f} |")
    shipped = Thresholds()
    lines += [
        "",
        f"kefu's decision with other thresholds (shipped: answer {shipped.answer}, lead {shipped.lead}):"
        " accuracy / answer precision",
        "",
        "| answer ≥ | " + " | ".join(f"lead ×{lead}" for lead in LEAD_GRID) + " |",
        "|---|" + "---|" * len(LEAD_GRID),
    ]
    for answer in ANSWER_GRID:
        cells = [decide_again(ranked, answer, lead) for lead in LEAD_GRID]
        lines.append(f"| {answer} | " + " | ".join(f"{a:.3f} / {p:.3f}" for a, p in cells) + " |")
    return [*lines, ""]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", nargs=3, action="append", metavar=("NAME", "KB", "CASES"), required=True)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "faq_ranking.md")
    args = parser.parse_args(argv)
    lines = [
        "# FAQ: ranking or deciding?",
        "",
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · Python {platform.python_version()}",
        "",
    ]
    for name, kb, cases in args.set:
        lines += report_set(name, Path(kb), Path(cases))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines) + f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
