"""`towerbot db copy`: the demo's SQLite database into PostgreSQL, row for row; migrations."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from bot.cli import main
from bot.demo import play
from bot.settings import Settings
from storage.base import migration_files
from storage.db import open_database
from tests.pg import Cluster, in_thread


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The database the scripted demo day leaves (every feature has rows in it)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    settings = Settings(_env_file=None, token=SecretStr("1:x"), db=str(out / "demo.sqlite3"))
    with contextlib.redirect_stdout(io.StringIO()):
        assert in_thread(lambda: play(settings, lang="en", out=out)) == 0
    return out / "demo.sqlite3"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, rel_tol=0, abs_tol=1e-6)
    return bool(a == b)


async def _rows(target: str, table: str, cols: list[str]) -> list[tuple]:
    db = await open_database(target).connect(migrate=False)
    try:
        rows = await db.fetchall(f"SELECT {', '.join(cols)} FROM {table}")
    finally:
        await db.close()
    return sorted((tuple(r[c] for c in cols) for r in rows), key=repr)


def test_copy_round_trip_of_the_demo(
    demo_db: Path, pg_cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    url = in_thread(lambda: pg_cluster.create("copy"))
    try:
        assert main(["db", "copy", str(demo_db), url]) == 0
        out = capsys.readouterr().out
        assert "copied" in out and "outbox:" in out
        in_thread(lambda: _compare(demo_db, url))
        # a second copy into the now full database is refused, with a reason, exit status 1
        assert main(["db", "copy", str(demo_db), url]) == 1
        assert "not empty" in capsys.readouterr().err
    finally:
        in_thread(lambda: pg_cluster.drop(url))


async def _compare(demo_db: Path, url: str) -> None:
    """Every row of every table arrived, and the bot can go on writing on the copy."""
    src = await open_database(demo_db).connect(migrate=False)
    try:
        tables = await src.tables()
        columns = {
            t: [str(r["name"]) for r in await src.fetchall(f"PRAGMA table_info({t})")]
            for t in tables
        }
        outbox_high = (await src.fetchone("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"))[
            0
        ]
    finally:
        await src.close()
    assert {"hour_entries", "activities", "campaigns", "announcements"} <= set(tables)
    nonempty = 0
    for table in tables:
        want = await _rows(str(demo_db), table, columns[table])
        got = await _rows(url, table, columns[table])
        assert len(got) == len(want), table
        for w, g in zip(want, got, strict=True):
            assert all(_same(x, y) for x, y in zip(w, g, strict=True)), (table, w, g)
        nonempty += bool(want)
    assert nonempty >= 10  # the demo touched most features

    # the bot runs on the copy: ids continue after the copied ones (the outbox's too)
    db = await open_database(url).connect()
    try:
        async with db.transaction() as tx:
            row = await (
                await tx.execute(
                    "INSERT INTO outbox(chat_id, payload, created_at) VALUES (1, '{}', 0)"
                    " RETURNING id"
                )
            ).fetchone()
        assert row is not None and row[0] > outbox_high
    finally:
        await db.close()


def test_copy_reports_a_row_count_mismatch(
    demo_db: Path, pg_cluster: Cluster, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    import asyncpg

    real = asyncpg.Connection.copy_records_to_table

    async def lossy(self: Any, table: str, *, records: list, **kw: Any) -> Any:
        return await real(self, table, records=records[:-1] if table == "outbox" else records, **kw)

    monkeypatch.setattr(asyncpg.Connection, "copy_records_to_table", lossy)
    url = in_thread(lambda: pg_cluster.create("lossy"))
    try:
        assert main(["db", "copy", str(demo_db), url]) == 1
        err = capsys.readouterr().err
        assert "row counts differ" in err and "outbox SQLite" in err
    finally:
        in_thread(lambda: pg_cluster.drop(url))


def test_copy_needs_a_sqlite_file_and_a_postgresql_url(tmp_path: Path, capsys: Any) -> None:
    assert main(["db", "copy", str(tmp_path / "none.sqlite3"), "postgresql://x@h/db"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["db", "copy", "postgresql://x@h/a", "postgresql://x@h/b"]) == 2


async def test_every_sqlite_migration_is_recorded_on_postgresql(pg_cluster: Cluster) -> None:
    """A new SQLite migration needs its PostgreSQL variant in storage/migrations/pg/."""
    url = await pg_cluster.create("versions")
    try:
        db = await open_database(url).connect()
        try:
            got = {int(r[0]) for r in await db.fetchall("SELECT version FROM schema_migrations")}
        finally:
            await db.close()
        assert got == {v for v, _, _ in migration_files("sqlite")}
    finally:
        await pg_cluster.drop(url)


async def test_instances_starting_together_migrate_once(pg_cluster: Cluster) -> None:
    """Two connects racing on an empty database: the advisory lock lets one migrate."""
    import asyncio

    url = await pg_cluster.create("race")
    try:
        db = await open_database(url).connect(migrate=False)
        async with db.transaction() as tx:  # as if never migrated
            await tx.execute("DROP SCHEMA public CASCADE")
            await tx.execute("CREATE SCHEMA public")
        await db.close()
        a, b = open_database(url), open_database(url)
        await asyncio.gather(a.connect(), b.connect())
        try:
            latest = max(v for v, _, _ in migration_files("sqlite"))
            assert await a.schema_version() == await b.schema_version() == latest
        finally:
            await a.close()
            await b.close()
    finally:
        await pg_cluster.drop(url)


def test_db_upgrade_and_backup_on_postgresql(
    pg_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """`towerbot db upgrade` names the schema version (without the password); `towerbot
    backup` writes a pg_dump archive."""
    url = in_thread(lambda: pg_cluster.create("cli"))
    try:
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("TOWERBOT_DB", url)
        assert main(["db", "upgrade"]) == 0
        latest = max(v for v, _, _ in migration_files("sqlite"))
        assert f"schema version {latest}" in capsys.readouterr().out
        assert main(["backup", str(tmp_path / "tower.dump")]) == 0
        assert (tmp_path / "tower.dump").read_bytes().startswith(b"PGDMP")
        monkeypatch.setenv("TOWERBOT_DB", "postgresql://nobody:secret@127.0.0.1:1/none")
        assert main(["db", "upgrade"]) == 2
        err = capsys.readouterr().err
        assert "cannot connect" in err and "secret" not in err
    finally:
        in_thread(lambda: pg_cluster.drop(url))
