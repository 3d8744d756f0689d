"""Per-query latency of the FAQ matcher on one core, against a rapidfuzz full scan, on ATEC questions.

    python -m benchmarks.faq_speed --atec PATH [--sizes 1000,10000,100000] [--out benchmarks/results/faq_speed.md]

Knowledge bases of N questions (one per entry, nested: 1k ⊂ 10k ⊂ 100k) are a seeded sample of ATEC
Alipay questions; queries are 1,000 other ones plus 200 of the KB's with one character dropped or
swapped, so miss and hit paths both run. ATEC is research-only: read at run time, only timings written.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import os
import platform
import random
import sys
from collections.abc import Callable
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from statistics import median
from time import perf_counter_ns

# Per-core figures: BLAS/OpenMP pools at one thread before numpy loads (scipy sparse sums and extractOne are
# single-threaded anyway). Not pinned to a CPU, so the scheduler can move us off a core another process uses.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

from rapidfuzz import fuzz, process  # noqa: E402

from faq.index import Query, SearchIndex  # noqa: E402
from faq.knowledge_base import Entry, KnowledgeBase  # noqa: E402
from faq.lexicon import BUILTIN_LEXICON, load_lexicon  # noqa: E402
from faq.matcher import Thresholds, match  # noqa: E402
from faq.normalise import normalise  # noqa: E402
from faq.tokenise import Tokeniser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ATEC = ROOT.parent / "shared" / "eval" / "external" / "atec_sentences.txt.gz"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "faq_speed.md"
SEED, UNSEEN, PERTURBED, REPEATS = 20240601, 1000, 200, 3
SCAN_BUDGET = 12_000_000  # full-scan query × question pairs per size: all queries up to 10k, ~100 at 100k
ANSWER = "您好，请查看帮助中心。"
STAGES = ("normalise", "tokenise", "retrieve", "refine")
PACKAGES = ("numpy", "scipy", "rapidfuzz", "rjieba", "zhconv")


def read_atec(path: Path) -> list[str]:
    """Read at run time, never copied: the data set is research-only."""
    if not path.is_file():
        sys.exit(f"ATEC sentences not found at {path}; pass --atec PATH (see ../shared/eval/README.md)")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def split(lines: list[str], rng: random.Random) -> tuple[list[str], list[str]]:
    """Unseen queries first, the rest a shuffled pool whose prefixes are the knowledge bases.

    The file is sorted, so a seeded shuffle rather than its first lines; queries that normalise to
    nothing are skipped because the matcher returns before any stage worth timing."""
    shuffled = rng.sample(lines, len(lines))
    head, pool = shuffled[: 2 * UNSEEN], shuffled[2 * UNSEEN :]
    return pool, [q for q in head if normalise(q).text][:UNSEEN]


def perturb(text: str, rng: random.Random) -> str:
    """Drop or swap one letter, like a typo: the hit path, with segmentation slightly off."""
    i = rng.choice([i for i, ch in enumerate(text[:-1]) if ch.isalnum()] or [0])
    if rng.random() < 0.5:
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def make_queries(questions: list[str], unseen: list[str], rng: random.Random) -> list[tuple[str, str | None]]:
    """(query, expected id or None), shuffled so that any prefix mixes hits and misses."""
    picked = rng.sample(range(len(questions)), min(PERTURBED, len(questions)))
    queries = [(q, None) for q in unseen] + [(perturb(questions[n], rng), f"q{n}") for n in picked]
    rng.shuffle(queries)
    return queries


def build_kb(questions: list[str], tokeniser: Tokeniser) -> tuple[KnowledgeBase, float]:
    """Index construction timed as the loader does it, with an already-initialised tokeniser."""
    entries = {f"q{n}": Entry(f"q{n}", (q,), ANSWER) for n, q in enumerate(questions)}
    gc.collect()
    start = perf_counter_ns()
    index = SearchIndex(entries.values(), tokeniser)
    return KnowledgeBase(entries=entries, index=index), (perf_counter_ns() - start) / 1e9


def time_runs(fn: Callable[[str], object], queries: list[str]) -> list[list[int]]:
    """Nanoseconds per call, REPEATS passes, each after a collection so earlier garbage is not billed to it."""
    runs = []
    for _ in range(REPEATS):
        gc.collect()
        runs.append([])
        for q in queries:
            start = perf_counter_ns()
            fn(q)
            runs[-1].append(perf_counter_ns() - start)
    return runs


def stage_times(index: SearchIndex, q: str) -> tuple[int, int, int, int]:
    """Nanoseconds in each of STAGES for one query.

    The public API has no per-stage hooks, so this repeats SearchIndex.parse and SearchIndex.search
    step by step through their private parts (keep in step with faq/index.py): retrieve is
    `_lexical_scores` and `_best`, refine is `_refine` over the top-k and `_scored`."""
    tok, limit = index.tokeniser, max(Thresholds().suggestions, 2)
    t0 = perf_counter_ns()
    normalised = normalise(q)
    t1 = perf_counter_ns()
    corrected = tok.correct(normalised.text)
    query = Query(corrected, frozenset(tok.terms(corrected)), normalised)
    t2 = perf_counter_ns()
    ranked = index._best(index._lexical_scores(query), limit)  # no excluded entries here
    t3 = perf_counter_ns()
    refined = index._refine(query, *ranked, limit)
    refined.sort(key=lambda r: r[0], reverse=True)
    _ = [index._scored(query, *r) for r in refined[:limit] if r[0] > 0]
    return t1 - t0, t2 - t1, t3 - t2, perf_counter_ns() - t3


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile, ns in, µs out."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))] / 1000


def summary(runs: list[list[int]]) -> dict[str, float]:
    """Median over runs of each run's p50, p99 and queries/s, and the p99 of each query's best run:
    the latter leaves out preemption by other processes, which dominates the tail on a busy machine."""
    return {
        "p50": median(pct(r, 50) for r in runs),
        "p99": median(pct(r, 99) for r in runs),
        "best99": pct([min(t) for t in zip(*runs, strict=True)], 99),
        "qps": median(len(r) / sum(r) * 1e9 for r in runs),
    }


def bench(size: int, pool: list[str], unseen: list[str], tokeniser: Tokeniser) -> dict:
    """All figures for one knowledge-base size; the full scan on a prefix of the same queries."""
    questions = pool[:size]
    queries = make_queries(questions, unseen, random.Random(SEED + size))
    texts = [q for q, _ in queries]
    kb, build = build_kb(questions, tokeniser)
    ours = lambda q: match(q, kb)  # noqa: E731
    scan = lambda q: process.extractOne(q, questions, scorer=fuzz.WRatio)  # noqa: E731
    [(ours(q), scan(q)) for q in texts[:5]]  # warm-up: lazy imports, first-call costs
    found = [getattr(match(q, kb).best, "entry", None) is kb.entries[e] for q, e in queries if e]
    ours_runs = time_runs(ours, texts)
    stage_runs = [[stage_times(kb.index, q) for q in texts] for _ in range(REPEATS)]
    scanned = min(len(texts), SCAN_BUDGET // size)
    scan_runs = time_runs(scan, texts[:scanned])
    ours_same = [median(t) for t in zip(*(r[:scanned] for r in ours_runs), strict=True)]
    scan_same = [median(t) for t in zip(*scan_runs, strict=True)]
    return dict(
        size=size, build=build, terms=len(kb.index._vocabulary), queries=len(texts), scanned=scanned,
        found=sum(found) / max(len(found), 1), ours=summary(ours_runs), scan=summary(scan_runs),
        stages={s: median(pct([t[i] for t in r], 50) for r in stage_runs) for i, s in enumerate(STAGES)},
        ratio_p50=pct(scan_same, 50) / pct(ours_same, 50), ratio_mean=sum(scan_same) / sum(ours_same),
    )  # fmt: skip


def latency(o: dict[str, float]) -> str:
    """One format for ours and the scan, so they compare at a glance."""
    return f"{o['p50']:,.0f} / {o['p99']:,.0f} ({o['best99']:,.0f}) µs"


def table(r: dict) -> str:
    """One Markdown table per size."""
    o, s, st = r["ours"], r["scan"], r["stages"]
    rows = [
        ("index build (incl. tokenising all questions)", f"{r['build']:.2f} s ({r['terms']:,} terms)"),
        ("match p50 / p99 (p99 of best run per query)", latency(o)),
        ("match throughput", f"{o['qps']:,.0f} queries/s"),
        ("stage p50: normalise / tokenise / retrieve / refine", " / ".join(f"{st[k]:,.0f}" for k in STAGES) + " µs"),
        (f"full scan p50 / p99 ({r['scanned']:,} queries)", latency(s)),
        ("full scan throughput", f"{s['qps']:,.1f} queries/s"),
        ("full scan / ours, same queries", f"×{r['ratio_p50']:,.1f} at p50, ×{r['ratio_mean']:,.1f} by mean"),
        ("perturbed in-KB queries found at rank 1", f"{r['found']:.0%}"),
    ]
    lines = [f"### {r['size']:,} questions ({r['queries']:,} queries)", "", "| measure | value |", "|---|---|"]
    return "\n".join(lines + [f"| {k} | {v} |" for k, v in rows])


def goals(results: list[dict]) -> str:
    """The targets: p99 < 1 ms at 10k, < 5 ms at 100k, faster than the full scan at every size."""
    by_size, parts = {r["size"]: r["ours"] for r in results}, []
    for size, ms in ((10_000, 1), (100_000, 5)):
        o = by_size.get(size)
        verdict = f"{'met' if o['p99'] < ms * 1000 else 'NOT met'} ({o['p99']:,.0f} µs)" if o else "not measured"
        parts.append(f"p99 under {ms} ms at {size:,} questions: {verdict}")
    faster = all(r["ratio_p50"] > 1 and r["ratio_mean"] > 1 for r in results)
    parts.append(f"faster than the full scan at every size measured: {'met' if faster else 'NOT met'}")
    return "**Goals:** " + "; ".join(parts) + "."


def header(tokeniser_s: float, load: float) -> str:
    """When and where, and how busy the machine was: other processes show up in the tail."""
    return f"""# FAQ matcher speed

- date: {datetime.now().astimezone().isoformat(timespec="minutes")}
- machine: {platform.platform()}, {os.cpu_count()} CPUs; 1-min load average {load:.2f} at start, \
{os.getloadavg()[0]:.2f} at end
- Python {platform.python_version()}, {", ".join(f"{p} {version(p)}" for p in PACKAGES)}; \
single-threaded (BLAS/OpenMP pools at 1)
- tokeniser init (rjieba dictionary + lexicon words): {tokeniser_s:.2f} s, once per process, not in the figures
- queries: {UNSEEN:,} ATEC questions not in the KB + {PERTURBED} KB questions with one character dropped or \
swapped; latency = median over {REPEATS} runs of each run's percentile; in brackets the p99 of each query's \
best run (leaves out preemption by other processes)
- full scan: `process.extractOne(query, questions, scorer=fuzz.WRatio)` on the raw questions, timed on \
at most {SCAN_BUDGET:,} query × question pairs per size (all queries up to 10k, {SCAN_BUDGET // 100_000} at 100k)"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--atec", type=Path, default=DEFAULT_ATEC, help="atec_sentences.txt.gz")
    parser.add_argument("--sizes", default="1000,10000,100000", help="knowledge-base sizes, comma-separated")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown results file")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))
    pool, unseen = split(read_atec(args.atec), random.Random(SEED))
    if sizes[-1] > len(pool):
        sys.exit(f"largest size {sizes[-1]:,} exceeds the {len(pool):,} questions available")
    load, start = os.getloadavg()[0], perf_counter_ns()
    tokeniser = Tokeniser(load_lexicon(BUILTIN_LEXICON))  # loads the segmenter's dictionary: timed apart
    tokeniser_s = (perf_counter_ns() - start) / 1e9
    results = []
    for size in sizes:
        results.append(bench(size, pool, unseen, tokeniser))
        print(table(results[-1]) + "\n", flush=True)
    report = "\n\n".join([header(tokeniser_s, load), *map(table, results), goals(results)]) + "\n"
    print(goals(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
