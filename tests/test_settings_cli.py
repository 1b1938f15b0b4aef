"""Settings validation, the CLI's one-line failures, db upgrade, org import, backup, status."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def towerbot(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TOWERBOT_")}
    clean["PYTHONPATH"] = str(ROOT)
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        check=False,
        env=clean,
        cwd=cwd or ROOT,
        timeout=120,
    )


def test_defaults_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOWERBOT_SUPERUSERS", "1, 2")
    monkeypatch.setenv("TOWERBOT_ACTIVITY_REMINDERS", "1h,24h")
    monkeypatch.setenv("TOWERBOT_STAR_THRESHOLDS", "100,200,500,800,1000")
    s = load_settings(_env_file=None)
    assert s.superusers == [1, 2] and s.rate == 25 and s.timezone == "Asia/Shanghai"
    assert s.activity_reminders == [timedelta(hours=24), timedelta(hours=1)]
    assert s.campaign_reminders[0] == timedelta(days=7) and s.overdue_days == 7
    assert s.star_thresholds == [100, 200, 500, 800, 1000] and s.chat_daily_budget == 10


@pytest.mark.parametrize(
    "name, value, fragment",
    [
        ("TOWERBOT_RATE", "fast", "TOWERBOT_RATE"),
        ("TOWERBOT_SUPERUSERS", "alice", "TOWERBOT_SUPERUSERS"),
        ("TOWERBOT_TIMEZONE", "Mars/Olympus", "TOWERBOT_TIMEZONE"),
        ("TOWERBOT_ACTIVITY_REMINDERS", "soon", "TOWERBOT_ACTIVITY_REMINDERS"),
        ("TOWERBOT_STAR_THRESHOLDS", "300,100", "TOWERBOT_STAR_THRESHOLDS"),
        ("TOWERBOT_LANGUAGE", "fr", "TOWERBOT_LANGUAGE"),
    ],
)
def test_malformed_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as err:
        load_settings(_env_file=None)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_run_without_token_exits_2(tmp_path: Path) -> None:
    result = towerbot("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "TOWERBOT_TOKEN" in result.stderr
    assert "Traceback" not in result.stderr


def test_malformed_value_exits_2(tmp_path: Path) -> None:
    result = towerbot("status", env={"TOWERBOT_RATE": "-3"}, cwd=tmp_path)
    assert result.returncode == 2 and "TOWERBOT_RATE" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_import_backup_status(tmp_path: Path) -> None:
    env = {"TOWERBOT_DB": str(tmp_path / "t.sqlite3")}
    up = towerbot("db", "upgrade", env=env, cwd=tmp_path)
    assert up.returncode == 0 and "schema version" in up.stdout
    tree = tmp_path / "tree.yaml"
    tree.write_text(
        "code: yanshan\nname: 雁山区团委\nkind: district\nchildren:\n"
        "  - {code: yanshan.a, name: 甲镇团委, kind: township}\n"
        "  - code: yanshan.b\n    name: 乙街道\n    children:\n      - {code: yanshan.b.1, name: 乙一}\n",
        encoding="utf-8",
    )
    first = towerbot("org", "import", str(tree), env=env, cwd=tmp_path)
    assert first.returncode == 0 and "created=4" in first.stdout
    second = towerbot("org", "import", str(tree), env=env, cwd=tmp_path)
    assert "created=0 updated=0 unchanged=4" in second.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: Bad Code!\nname: x\n", encoding="utf-8")
    refused = towerbot("org", "import", str(bad), env=env, cwd=tmp_path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    backup = towerbot("backup", str(tmp_path / "copy.sqlite3"), env=env, cwd=tmp_path)
    assert backup.returncode == 0
    copy = sqlite3.connect(tmp_path / "copy.sqlite3")
    assert copy.execute("SELECT COUNT(*) FROM orgs").fetchone()[0] == 4
    copy.close()
    status = towerbot("status", env=env, cwd=tmp_path)
    assert status.returncode == 0 and '"outbox"' in status.stdout
    # no instance is running: none listed, nobody sends
    assert '"instances": []' in status.stdout and '"sender": null' in status.stdout


def test_domain_and_storage_never_import_telegram() -> None:
    offenders = []
    for folder in ("bot/domain", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if stripped.startswith(("import telegram", "from telegram")):
                    offenders.append(f"{path.relative_to(ROOT)}: {stripped}")
    assert offenders == []


def test_catalogues_match() -> None:
    import string

    from bot.texts import CATALOGUES

    zh, en = CATALOGUES["zh"], CATALOGUES["en"]
    assert zh.keys() == en.keys()

    def fields(s: str) -> list[str]:
        return sorted({f for _, f, _, _ in string.Formatter().parse(s) if f})

    mismatched = [k for k in zh if fields(zh[k]) != fields(en[k])]
    assert mismatched == []


def test_migrations_are_numbered_uniquely() -> None:
    from storage.db import migration_files

    versions = [v for v, _, _ in migration_files()]
    assert versions == sorted(set(versions))
