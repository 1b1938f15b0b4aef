"""towerbot run | demo | db upgrade | db copy | org import | members | backup | status | export.

The CLI parses arguments and calls into bot/app.py and the domain; it builds nothing itself.
Each command lives in its own module; this one holds the parser and the dispatch.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from bot import logs
from bot.cli import db as db_commands
from bot.cli import export as export_commands
from bot.cli import members as members_commands
from bot.cli.common import CliError
from bot.cli.org import org_import
from bot.cli.run import run
from bot.settings import Settings, SettingsError, load_settings

__all__ = ["CliError", "main"]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="towerbot", description="TowerBot (塔群助手)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (polling, or webhook when configured)")
    demo = sub.add_parser("demo", help="play a scripted day against a local Bot API emulator")
    demo.add_argument("--lang", choices=("zh", "en"), default="zh")
    demo.add_argument("--out", default="demo-out", help="folder for the demo's files")
    demo.add_argument(
        "--serve",
        action="store_true",
        help="at the end, keep serving the dashboard (the signed link) until Ctrl-C",
    )
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply schema migrations")
    copy = db_sub.add_parser(
        "copy", help="copy a SQLite database into an empty PostgreSQL database"
    )
    copy.add_argument("source", metavar="SQLITE_FILE")
    copy.add_argument("target", metavar="POSTGRESQL_URL")
    org = sub.add_parser("org", help="org tree")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    imp = org_sub.add_parser("import", help="create or update orgs from a YAML tree")
    imp.add_argument("file")
    imp.add_argument("--parent", help="code of the org to import under (default: the root)")
    backup = sub.add_parser("backup", help="SQLite online backup (PostgreSQL: pg_dump -Fc archive)")
    backup.add_argument("file")
    sub.add_parser("status", help="outbox backlog, scheduled jobs, last update received")
    export_commands.add_commands(sub)
    members_commands.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """The `towerbot` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format=logs.FORMAT)
    try:
        settings = load_settings()
        # the bot logs what an operator reads; other commands speak through their output
        logs.configure(settings.log_level if args.command == "run" else "WARNING")
        if args.command == "run":  # PTB's run_polling / run_webhook own the event loop
            return run(settings)
        return asyncio.run(dispatch(args, settings)) or 0
    except (SettingsError, CliError) as exc:
        print(f"towerbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def dispatch(args: argparse.Namespace, settings: Settings) -> int | None:
    """Run the async command `args.command`."""
    if args.command == "run":
        return run(settings)
    if args.command == "demo":
        from bot.demo import play

        return await play(settings, lang=args.lang, out=Path(args.out), serve=args.serve)
    if args.command == "db" and args.db_command == "copy":
        return await db_commands.copy(args.source, args.target)
    if args.command == "db":
        return await db_commands.db_upgrade(settings)
    if args.command == "org":
        return await org_import(settings, args.file, args.parent)
    if args.command == "backup":
        return await db_commands.backup(settings, args.file)
    if args.command == "status":
        return await db_commands.status(settings)
    if args.command == "export":
        return await export_commands.export(args, settings)
    if args.command == "members":
        return await members_commands.members(args, settings)
    raise SystemExit(f"unknown command {args.command}")
