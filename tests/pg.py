"""A throwaway PostgreSQL cluster for the tests, and a fresh database per test.

Where the server comes from, first match wins:

* `TOWERBOT_TEST_PG_URL=postgresql://user@host:port/postgres`: an existing server; the user
  must be allowed to CREATE DATABASE (each test gets its own, dropped after it);
* `initdb` and `pg_ctl` on PATH or in /usr/lib/postgresql/*/bin: a cluster is created in a
  temporary folder for the session (as the `postgres` user when the tests run as root), on a
  free TCP port of 127.0.0.1, with durability off (fsync=off: it is thrown away after);
* neither: tests on the PostgreSQL engine are skipped with the reason (and CI, which sets
  TOWERBOT_NO_SKIPS=1, fails).

Every test database is a copy of a template migrated once per session (CREATE DATABASE …
TEMPLATE), so a test starts on the current schema in milliseconds.
"""

from __future__ import annotations

import asyncio
import glob
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

TEMPLATE = "towerbot_template"
#: databases kept made ahead
READY = 3


def in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on its own loop (fixtures may run inside another loop)."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(asyncio.run(make()))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            out.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


async def recreate(admin_url: str, name: str, *, create: bool = True) -> None:
    """On the server `admin_url` names: drop the database `name` (its sessions forced out)
    and, unless `create` is False, create it anew, empty."""
    import asyncpg

    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()


def _binaries() -> Path | None:
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl", path=str(Path(found).parent)):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists() and Path(folder, "pg_ctl").exists():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A PostgreSQL server (started here, or given) and the databases made on it."""

    def __init__(self, admin_url: str, stop: Callable[[], None] | None = None) -> None:
        self.admin_url = admin_url
        self._stop = stop
        self._names = itertools.count(1)
        self._ready: queue.Queue[str] = queue.Queue()
        self._gone: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._stopping = False
        self.base = admin_url.rsplit("/", 1)[0]

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def prepare(self) -> None:
        """Create the migrated template (once per session)."""
        from storage.db import open_database

        async def run() -> None:
            await recreate(self.admin_url, TEMPLATE)
            db = await open_database(self.url(TEMPLATE)).connect()
            await db.close()

        in_thread(run)

    async def create(self, label: str = "t") -> str:
        """A new database copied from the template; returns its URL.

        A thread keeps a few made ahead (and drops used ones), so a test does not wait for
        CREATE DATABASE: timing-sensitive tests start as quickly as on SQLite.
        """
        self._start_worker()
        return await asyncio.to_thread(self._ready.get)

    async def drop(self, url: str) -> None:
        self._start_worker()
        self._gone.put(url)

    def _start_worker(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._work, daemon=True, name="pg-databases")
            self._worker.start()

    def _work(self) -> None:
        asyncio.run(self._fill())

    async def _fill(self) -> None:
        import asyncpg

        admin = await asyncpg.connect(self.admin_url)
        # FILE_COPY (PostgreSQL 15+): ~15x faster than WAL_LOG for a small template
        fast = " STRATEGY FILE_COPY" if admin.get_server_version().major >= 15 else ""
        try:
            while not self._stopping:
                while True:
                    try:
                        url = self._gone.get_nowait()
                    except queue.Empty:
                        break
                    name = url.rsplit("/", 1)[1]
                    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                if self._ready.qsize() < READY:
                    name = f"tb_{os.getpid()}_{next(self._names)}"
                    await admin.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}{fast}")
                    self._ready.put(self.url(name))
                else:
                    await asyncio.sleep(0.02)
            # the session is over: the unused and the last used databases go too
            for q in (self._ready, self._gone):
                while not q.empty():
                    name = q.get_nowait().rsplit("/", 1)[1]
                    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        finally:
            await admin.close()

    def stop(self) -> None:
        self._stopping = True
        if self._worker is not None:
            self._worker.join(timeout=10)
        if self._stop is not None:
            self._stop()


def start_cluster() -> Cluster | str:
    """A running cluster with the migrated template, or why there is none (the skip reason)."""
    given = os.environ.get("TOWERBOT_TEST_PG_URL")
    cluster = Cluster(given) if given else start_server()
    if isinstance(cluster, str):
        return cluster
    try:
        cluster.prepare()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def start_server() -> Cluster | str:
    """A throwaway server started here (no template yet; `stop()` removes it), or why not.
    bench/runner.py's `--db pg` uses it too."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        return "asyncpg is not installed (pip install -e '.[test]')"
    bin_dir = _binaries()
    if bin_dir is None:
        return (
            "PostgreSQL not found: no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin,"
            " and TOWERBOT_TEST_PG_URL is not set"
        )
    root = Path(tempfile.mkdtemp(prefix="towerbot-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root
        shutil.chown(root, "postgres")
        os.chmod(root, 0o700)
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = root / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)

    try:
        run(
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        run(
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-o",
            options,
            "-l",
            str(root / "log"),
            "-w",
            "start",
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(root, ignore_errors=True)
        return f"could not start PostgreSQL: {exc.stderr or exc.stdout}"

    def stop() -> None:
        subprocess.run(
            [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)

    return Cluster(f"postgresql://postgres@127.0.0.1:{port}/postgres", stop)
