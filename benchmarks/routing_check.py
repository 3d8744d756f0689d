"""Figures for the emotion reader and the handoff policy, written to benchmarks/results/routing.md.

    python -m benchmarks.routing_check [--eval DIR] [--out FILE]

1. The shop emotion dev set (targets: threat recall ≥ 0.98, escalation recall ≥ 0.92, calm
   false escalation ≤ 0.03).
2. Real Weibo posts (SMP2020-EWECT, CLUEmotion2020): anger precision and recall beside a plain
   anger-word baseline, in the same run. Not shop text: a check that the rules are not overfit.
3. Speed: reading + intent + policy decision per message (the FAQ match is timed elsewhere),
   p50 and p99 over real JD customer turns; the goal is under 0.2 ms at p99.
"""

from __future__ import annotations

import argparse
import csv
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path

from app.knowledge import build_routing
from app.settings import DEFAULT_RULES_FILE, SAMPLE_FAQ_DIR
from benchmarks.results_file import publish
from faq.loader import load_knowledge_base
from faq.matcher import match
from routing.emotion import EmotionReader
from routing.evaluate import read_cases, report
from routing.intent import classify
from routing.policy import Situation, decide

ROOT = Path(__file__).resolve().parent.parent
ANGER_LABELS = {"anger", "angry", "disgust"}
# A plain anger lexicon, the usual baseline: any of these words means angry.
BASELINE_WORDS = [
    "生气",
    "愤怒",
    "气死",
    "恶心",
    "讨厌",
    "垃圾",
    "滚",
    "妈的",
    "操",
    "无语",
    "可恶",
    "混蛋",
    "傻逼",
    "烦",
    "怒",
]


def weibo(reader: EmotionReader, path: Path) -> dict[str, dict[str, float]]:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["label"] in ANGER_LABELS) for r in csv.DictReader(handle)]
    ours = [reader.read(text).label in ("angry", "aggrieved") or reader.read(text).risk == "threat" for text, _ in rows]
    baseline = [any(w in text for w in BASELINE_WORDS) for text, _ in rows]
    truth = [angry for _, angry in rows]
    return {"kefu": _scores(ours, truth), "plain lexicon": _scores(baseline, truth), "posts": len(rows)}


def _scores(predicted: list[bool], truth: list[bool]) -> dict[str, float]:
    hits = sum(p and t for p, t in zip(predicted, truth, strict=True))
    precision = hits / max(sum(predicted), 1)
    recall = hits / max(sum(truth), 1)
    return {"precision": precision, "recall": recall, "f1": 2 * precision * recall / max(precision + recall, 1e-9)}


def speed(texts: list[str]) -> dict[str, float]:
    """Per message: read, classify the intent, decide; the FAQ result is computed beforehand."""
    routing = build_routing(DEFAULT_RULES_FILE)
    kb = load_knowledge_base(SAMPLE_FAQ_DIR)
    prepared = [(text, match(text, kb)) for text in texts]
    runs = []
    for _ in range(3):
        micros = []
        for text, faq in prepared:
            start = time.perf_counter_ns()
            reading = routing.reader.read(text)
            intent = classify(text, faq, routing.rules)
            decide(Situation(reading, intent, faq), routing.rules)
            micros.append((time.perf_counter_ns() - start) / 1000)
        micros.sort()
        runs.append((statistics.median(micros), micros[int(len(micros) * 0.99)]))
    return {
        "messages": len(texts),
        "p50_us": statistics.median(r[0] for r in runs),
        "p99_us": statistics.median(r[1] for r in runs),
    }


def render(dev: dict, weibo_figures: dict, timing: dict) -> str:
    now = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    lines = [
        f"# Emotion reader and handoff policy\n\n{now} · Python {platform.python_version()}\n",
        "## Shop emotion dev set\n",
    ]
    lines.append(
        "| threat recall | escalation recall | calm false escalation "
        "| calm P/R | anxious P/R | angry P/R | threat P/R |"
    )
    lines.append("|---|---|---|---|---|---|---|")
    pr = " | ".join(
        f"{dev[k]['precision']:.2f} / {dev[k]['recall']:.2f}" for k in ("calm", "anxious", "angry", "threat")
    )
    lines.append(
        f"| {dev['threat_recall']:.3f} | {dev['escalation_recall']:.3f} | {dev['calm_false_escalation']:.3f} | {pr} |\n"
    )
    lines.append(f"## Weibo anger ({weibo_figures['posts']} posts; anger, angry and disgust count as anger)\n")
    lines += ["| reader | precision | recall | F1 |", "|---|---|---|---|"]
    for name in ("kefu", "plain lexicon"):
        f = weibo_figures[name]
        lines.append(f"| {name} | {f['precision']:.3f} | {f['recall']:.3f} | {f['f1']:.3f} |")
    lines.append(f"\n## Speed (read + intent + decision, {timing['messages']} real JD turns, median of 3 runs)\n")
    goal = "met" if timing["p99_us"] < 200 else "not met"
    lines.append(f"p50 {timing['p50_us']:.1f} µs, p99 {timing['p99_us']:.1f} µs (goal p99 < 200 µs: {goal})\n")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--eval", type=Path, default=ROOT.parent / "shared" / "eval")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "routing.md")
    args = parser.parse_args()
    if not args.eval.is_dir():
        parser.error(f"{args.eval} not found (the evaluation data lives in ../shared/eval)")
    reader = build_routing(DEFAULT_RULES_FILE).reader
    dev, _ = report(reader, read_cases(args.eval / "shop" / "emotion_dev.csv"))
    weibo_figures = weibo(reader, args.eval / "external" / "weibo_emotion.csv")
    with (args.eval / "external" / "jddc2019_customer_turns.tsv").open(encoding="utf-8") as handle:
        turns = [r["text"] for r in csv.DictReader(handle, delimiter="\t") if r.get("text")]
    text = render(dev, weibo_figures, speed(turns))
    publish(text, args.out)


if __name__ == "__main__":
    main()
