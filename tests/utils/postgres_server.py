"""Throwaway PostgreSQL and Redis servers around one command: `make test-pg` runs the suite inside them.

    python -m tests.utils.postgres_server pytest -x

initdb into a temporary folder, pg_ctl start on a free port of 127.0.0.1, a redis-server beside it,
run the command with KEFU_TEST_DATABASE and KEFU_TEST_REDIS pointing at them, then stop both and
delete the folders, whatever the command did. The binaries are Debian's (`apt-get install postgresql
redis-server`); PostgreSQL refuses to run as root, so as root its server runs as the `postgres` user
the package creates.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.utils.databases import ENVIRONMENT_VARIABLE, REDIS_VARIABLE
from tests.utils.kefu_process import free_port
from tests.utils.redis_server import RedisServer

SERVER_USER = "postgres"
USER = "kefu"
# A throwaway cluster: durability buys nothing and costs the suite time.
SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200")


def binaries() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        sys.exit("no PostgreSQL under /usr/lib/postgresql: install the Debian package `postgresql`")
    return found[-1].parent


def _as_server_user(command: list[str]) -> list[str]:
    return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


def _run(command: list[str], folder: Path) -> None:
    subprocess.run(_as_server_user(command), cwd=folder, check=True, stdout=subprocess.DEVNULL)


class PostgresServer:
    """A throwaway cluster on a free port; `stop`/`start` take it down and up again with its data."""

    def __init__(self) -> None:
        self.bin_dir, self.port = binaries(), free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="kefu-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.folder, SERVER_USER, SERVER_USER)
        self._pg_ctl = [str(self.bin_dir / "pg_ctl"), "-D", str(self.folder / "data"), "-w"]
        initdb = [str(self.bin_dir / "initdb"), "-D", str(self.folder / "data"), "-U", USER, "-A", "trust"]
        _run([*initdb, "-E", "UTF8", "--no-locale"], self.folder)

    @property
    def url(self) -> str:
        """User kefu, no password, database postgres."""
        return f"postgresql://{USER}@127.0.0.1:{self.port}/postgres"

    def start(self) -> PostgresServer:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} " + " ".join(f"-c {s}" for s in SETTINGS)
        _run([*self._pg_ctl, "-l", str(self.folder / "server.log"), "-o", options, "start"], self.folder)
        return self

    def stop(self) -> None:
        _run([*self._pg_ctl, "-m", "fast", "stop"], self.folder)

    def close(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # already down
        shutil.rmtree(self.folder, ignore_errors=True)


@contextmanager
def postgres_server() -> Iterator[str]:
    """Start a server; yield its URL; stop and delete it."""
    server = PostgresServer()
    try:
        yield server.start().url
    finally:
        server.close()


def main(command: list[str]) -> int:
    """Run `command` with a PostgreSQL server and a Redis server: kefu's scale-out shape."""
    if not command:
        sys.exit("usage: python -m tests.utils.postgres_server COMMAND [ARGS...]")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on `kill` too
    redis = RedisServer().start()
    try:
        with postgres_server() as url:
            print(f"PostgreSQL for the tests: {url}; Redis: {redis.url}", flush=True)
            servers = {ENVIRONMENT_VARIABLE: url, REDIS_VARIABLE: redis.url}
            return subprocess.run(command, env={**os.environ, **servers}).returncode
    finally:
        redis.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
