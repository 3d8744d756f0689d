"""The service's child processes (delivery, engine) as the tests see them: from its log and /proc."""

from __future__ import annotations

import re
from pathlib import Path

from tests.utils.kefu_process import KefuProcess


def children(kefu: KefuProcess, name: str) -> list[int]:
    """The pids of the `name` processes ("delivery process", "engine process") the service said it started."""
    log = kefu.log_path.read_text(encoding="utf-8")
    return [int(pid) for pid in re.findall(rf"{name} (\d+) started", log)]


def alive(pid: int) -> bool:
    """Running, not exited (an exited child whose parent died may stay a zombie in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
