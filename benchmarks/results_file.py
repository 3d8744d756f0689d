"""Where a benchmark's Markdown goes: its results file (benchmarks/results/ unless --out says), and the screen."""

from __future__ import annotations

from pathlib import Path


def publish(text: str, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    print(text + f"\nwritten to {out}")
