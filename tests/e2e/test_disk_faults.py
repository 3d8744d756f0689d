"""SQLite on a disk that fills up or is read-only: webhooks answer 503 and the log says why; nothing is
accepted that was not stored, and every accepted message is answered once the disk is back.

The disk is real: a small tmpfs mounted for the test (root only, as in CI), filled with a file
until the kernel says ENOSPC, or remounted read-only.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import post_signed
from tests.utils.callback_server import CallbackServer
from tests.utils.databases import query
from tests.utils.kefu_process import KefuProcess
from tests.utils.signing import web_message

pytestmark = pytest.mark.sqlite_only

QUESTIONS = ["什么时候发货", "能开发票吗", "七天无理由退货吗", "运费险怎么理赔"]


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small disk here (needs root, as in CI): {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.fixture
def kefu_on_disk(kefu_factory: Callable[..., KefuProcess], small_disk: Path) -> KefuProcess:
    process = kefu_factory(KEFU_DATABASE_URL=f"sqlite+aiosqlite:///{small_disk / 'kefu.db'}")
    process.migrate()
    return process.start()


class Platform:
    """Sends web messages to kefu and keeps count; refused ones are sent again later, as platforms do."""

    def __init__(self, kefu: KefuProcess) -> None:
        self.kefu = kefu
        self.sent = 0
        self.accepted: set[str] = set()

    def send(self, message_id: str) -> int:
        self.sent += 1
        text = QUESTIONS[self.sent % len(QUESTIONS)] + "，" + "麻烦看一下" * 100  # ~1 KB: the disk fills sooner
        status = post_signed(
            self.kefu.url, web_message(text, customer_id=message_id, message_id=message_id)
        ).status_code
        assert status in (200, 503), status
        if status == 200:
            self.accepted.add(message_id)
        return status

    def send_until_accepted(self, message_ids: list[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for message_id in message_ids:
            while self.send(message_id) != 200:
                assert time.monotonic() < deadline, "kefu never accepted again after the disk came back"
                time.sleep(0.5)

    def check_every_accepted_message_answered_once(self, callback: CallbackServer) -> None:
        callback.wait_for(lambda got: {d["in_reply_to"] for d in got} >= self.accepted, timeout=60)
        database = self.kefu.env["KEFU_DATABASE_URL"]
        replies = [r for (r,) in query(database, "SELECT in_reply_to FROM messages WHERE direction = 'out'")]
        assert sorted(r for r in replies if r in self.accepted) == sorted(self.accepted), "each answered once"
        print(f"sent {self.sent}, accepted {len(self.accepted)}, answered {len(self.accepted)}, duplicates 0, lost 0")


def fill(disk: Path) -> Path:
    """Write a file until the disk is full."""
    filler = disk / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_refuses_webhooks_with_503_and_loses_nothing(kefu_on_disk, small_disk, callback):
    platform = Platform(kefu_on_disk)
    assert platform.send("before-0") == 200
    callback.wait_for(lambda got: len(got) == 1)

    filler, refused = fill(small_disk), []
    for n in range(200):  # the database's free pages and its write-ahead log absorb a few first
        if platform.send(f"full-{n}") == 503:
            refused.append(f"full-{n}")
        if len(refused) >= 5:
            break
    assert len(refused) >= 5, "a full disk never refused a webhook"
    log = kefu_on_disk.log_path.read_text()
    assert "storage unavailable for web webhook: OperationalError: database or disk is full" in log

    filler.unlink()
    platform.send_until_accepted(refused)
    platform.check_every_accepted_message_answered_once(callback)


def test_kefu_on_a_read_only_disk_refuses_webhooks_with_503_then_recovers(kefu_factory, small_disk, callback):
    """A volume mounted read-only (a mount can only turn read-only while nothing writes to it)."""
    kefu = kefu_factory(KEFU_DATABASE_URL=f"sqlite+aiosqlite:///{small_disk / 'kefu.db'}")
    kefu.migrate()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    try:
        kefu.start(ready_status=503)
        platform = Platform(kefu)
        refused = [f"read-only-{n}" for n in range(5)]
        assert [platform.send(message_id) for message_id in refused] == [503] * 5
        assert "readonly database" in kefu.log_path.read_text() or "unable to open" in kefu.log_path.read_text()
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_disk)], check=True)

    platform.send_until_accepted(refused)
    platform.check_every_accepted_message_answered_once(callback)
