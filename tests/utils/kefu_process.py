"""Run kefu as a real process: `kefu migrate`, then `kefu serve` on a free port of 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

KEFU = [sys.executable, "-m", "app"]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class KefuProcess:
    workdir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "kefu.log"

    def wait_for_log(self, text: str, timeout: float = 10) -> str:
        """The log once it holds `text`: kefu logs an outcome after the peer has answered, so a
        test that has seen the peer's side must still wait for kefu's line."""
        deadline = time.monotonic() + timeout
        while text not in (log := self.log_path.read_text(encoding="utf-8")):
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not logged within {timeout}s:\n{log[-2000:]}")
            time.sleep(0.05)
        return log

    def _environ(self) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("KEFU_")}
        return {**clean, "PYTHONPATH": str(ROOT), **self.env}

    def migrate(self) -> None:
        self.cli("migrate")

    def cli(self, *args: str) -> str:
        """Run a `kefu` command against this instance's database and settings; its output."""
        done = subprocess.run([*KEFU, *args], cwd=self.workdir, env=self._environ(), capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"kefu {' '.join(args)} failed:\n{done.stderr}")
        return done.stdout

    def add_agent(self, username: str, *, skills: str = "presale", role: str = "agent", capacity: int = 5) -> str:
        """Create an agent with the CLI, as ops would; its API token."""
        out = self.cli(
            "agents",
            "add",
            username,
            "--name",
            username,
            "--skills",
            skills,
            "--role",
            role,
            "--capacity",
            str(capacity),
        )
        return out.rsplit("token (shown once, keep it safe): ", 1)[1].strip()

    def start(self, timeout: float = 30, ready_status: int = 200) -> KefuProcess:
        """Start and wait until /readyz answers `ready_status` (503 for a deliberately broken setup)."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*KEFU, "serve", "--port", str(self.port)], cwd=self.workdir, env=self._environ(), stdout=log, stderr=log
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"kefu exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == ready_status:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"kefu not ready after {timeout}s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no draining."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as an orchestrator would: kefu drains and exits."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            return self.process.wait(timeout)
        return self.process.returncode if self.process else 0
