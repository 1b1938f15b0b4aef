"""A database file another program holds locked (`BEGIN EXCLUSIVE`) for longer than
busy_timeout: the command line says so in one line (exit status 2, no traceback), the running
bot answers politely and keeps running, and nothing is lost.

The database runs in WAL mode, where a writer's lock does not block readers: `towerbot status`
(and `db upgrade` with nothing to apply) read and answer; whatever must write says the file is
locked.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.emulator import Emulator
from bot.texts import t
from storage.db import migration_files
from tests.faults.conftest import (
    SUPERUSER,
    BotProcess,
    bind_groups,
    open_services,
    sql,
    wait_for,
)

LOCKER = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE IF NOT EXISTS locker_notes(note TEXT)")
conn.execute("INSERT INTO locker_notes VALUES ('written under the lock')")
print("locked", flush=True)
sys.stdin.readline()
conn.execute("COMMIT")
print("committed", flush=True)
"""


class Locker:
    """Another program holding an exclusive lock until `release()` (which commits its write)."""

    def __init__(self, db: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LOCKER, str(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "locked"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None and self.proc.stdout is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == "committed"
            self.proc.wait(10)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def towerbot(tmp_path: Path, db: Path, *args: str, **env: str) -> tuple[int, str, str]:
    """`python -m bot ARGS` in its own process (the event loop keeps running meanwhile)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
    clean.update({"TOWERBOT_DB": str(db), **{f"TOWERBOT_{k.upper()}": v for k, v in env.items()}})
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=str(tmp_path),
        env=clean,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def one_line_locked(result: tuple[int, str, str], db: Path) -> None:
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in out + err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"towerbot: database {db} is locked"), err


def old_schema(db: Path) -> None:
    """A database one migration behind (as a previous release left it)."""
    conn = sqlite3.connect(str(db), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
        " applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    )
    files = migration_files()
    for version, name, script in files[:-1]:
        conn.executescript(
            f"BEGIN;\n{script}\n;INSERT INTO schema_migrations(version, name)"
            f" VALUES ({version}, '{name}');\nCOMMIT;"
        )
    conn.close()


async def test_command_line_on_a_locked_database(tmp_path: Path) -> None:
    em = Emulator()
    url = await em.serve()
    db, old = tmp_path / "tower.sqlite3", tmp_path / "old.sqlite3"
    services = await open_services(em, db)
    try:
        await services.tower.import_tree(
            {
                "code": "d",
                "name": "区团委",
                "children": [{"code": f"d.b{i}", "name": f"团支部{i}"} for i in range(20)],
            }
        )
    finally:
        await services.db.close()
    old_schema(old)
    latest = migration_files()[-1][0]
    orgs_before = sql(db, "SELECT id, code, name, path FROM orgs ORDER BY id")
    lockers = [Locker(db), Locker(old)]
    try:
        status, upgrade, run, old_upgrade, old_status = await asyncio.gather(
            towerbot(tmp_path, db, "status"),
            towerbot(tmp_path, db, "db", "upgrade"),
            towerbot(tmp_path, db, "run", token=em.token, api_base_url=url + "/bot"),
            towerbot(tmp_path, old, "db", "upgrade"),
            towerbot(tmp_path, old, "status"),
        )
        print(
            f"\nlocked: status -> {status[0]}, db upgrade -> {upgrade[0]}, run -> {run[0]} "
            f"{run[2].strip()!r}, old db upgrade -> {old_upgrade[0]} {old_upgrade[2].strip()!r}"
        )
        # reading needs no write lock in WAL mode
        assert status[0] == 0 and "Traceback" not in status[2], status
        assert json.loads(status[1])["schema_version"] == latest
        assert upgrade[0] == 0 and upgrade[1].strip() == f"{db}: schema version {latest}", upgrade
        # what must write says so in one line
        one_line_locked(run, db)
        one_line_locked(old_upgrade, old)
        one_line_locked(old_status, old)
        assert not [c for c in em.calls if c.method == "getUpdates"], "the bot must not start"
    finally:
        for locker in lockers:
            locker.release()
            locker.kill()
    # nothing lost: the other program's write is there, and ours
    assert sql(db, "SELECT note FROM locker_notes") == [("written under the lock",)]
    assert sql(db, "SELECT id, code, name, path FROM orgs ORDER BY id") == orgs_before
    code, out, err = await towerbot(tmp_path, old, "db", "upgrade")
    assert (code, out.strip()) == (0, f"{old}: schema version {latest}"), err
    assert sql(old, "SELECT note FROM locker_notes") == [("written under the lock",)]
    await em.close()


async def test_running_bot_write_while_locked(tmp_path: Path) -> None:
    em = Emulator(per_chat_burst=20)
    await em.serve()
    db = tmp_path / "tower.sqlite3"
    bot = BotProcess(em, db, tmp_path)
    locker: Locker | None = None
    try:
        boss = em.add_user("晓明", user_id=SUPERUSER)
        services = await open_services(em, db)
        try:
            await services.tower.import_tree({"code": "d", "name": "区团委"})
            groups = await bind_groups(services, em, ["d"], [boss["id"]])
        finally:
            await services.db.close()
        root = groups["d"]
        await bot.start()

        async def say(text: str, timeout: float = 60) -> str:
            mark = len(em.messages_to(root["id"]))
            em.text(boss, root, text)
            await wait_for(
                lambda: len(em.messages_to(root["id"])) > mark,
                timeout,
                f"an answer to {text!r}",
                bot,
            )
            return em.messages_to(root["id"])[mark].text or ""

        assert "区团委" in await say("/org")  # the boss is known: the next command only writes
        command = "/org add d.new 新支部 branch"
        locker = Locker(db)
        answer = await say(command)
        print(f"\nwhile locked: {answer!r}")
        assert answer == t("zh", "err_internal")
        assert not sql(db, "SELECT 1 FROM orgs WHERE code = 'd.new'")
        assert bot.alive()
        locker.release()

        answer = await say(command)
        print(f"after the lock: {answer!r}")
        assert answer != t("zh", "err_internal") and "d.new" in answer
        assert sql(db, "SELECT COUNT(*) FROM orgs WHERE code = 'd.new'") == [(1,)]
        assert sql(db, "SELECT note FROM locker_notes") == [("written under the lock",)]
        assert bot.alive()
    finally:
        if locker is not None:
            locker.kill()
        bot.kill()
        await em.close()
