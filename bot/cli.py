"""towerbot run | demo | db upgrade | org import | backup | status.

The CLI parses arguments and calls into bot/app.py and the domain; it builds nothing itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from bot.settings import Settings, SettingsError, load_settings


class CliError(Exception):
    """A one-line problem for the operator; exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="towerbot", description="TowerBot (塔群助手)")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the bot (polling, or webhook when configured)")
    demo = sub.add_parser("demo", help="play a scripted day against a local Bot API emulator")
    demo.add_argument("--lang", choices=("zh", "en"), default="zh")
    demo.add_argument("--out", default="demo-out", help="folder for the demo's files")
    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    db_sub.add_parser("upgrade", help="apply schema migrations")
    org = sub.add_parser("org", help="org tree")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    imp = org_sub.add_parser("import", help="create or update orgs from a YAML tree")
    imp.add_argument("file")
    imp.add_argument("--parent", help="code of the org to import under (default: the root)")
    backup = sub.add_parser("backup", help="SQLite online backup")
    backup.add_argument("file")
    sub.add_parser("status", help="outbox backlog, scheduled jobs, last update received")
    from bot import cli_extra

    cli_extra.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.command == "run" else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        if args.command == "run":  # PTB's run_polling / run_webhook own the event loop
            return run(settings)
        return asyncio.run(dispatch(args, settings)) or 0
    except (SettingsError, CliError) as exc:
        print(f"towerbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


async def dispatch(args: argparse.Namespace, settings: Settings) -> int | None:
    if args.command == "run":
        return run(settings)
    if args.command == "demo":
        from bot.demo import play

        return await play(settings, lang=args.lang, out=Path(args.out))
    if args.command == "db":
        return await db_upgrade(settings)
    if args.command == "org":
        return await org_import(settings, args.file, args.parent)
    if args.command == "backup":
        return await backup(settings, args.file)
    if args.command == "status":
        return await status(settings)
    from bot import cli_extra

    return await cli_extra.dispatch(args, settings)


def run(settings: Settings) -> int:
    """Polling with every update type, or our webhook server (bot/web) when a URL is set."""
    from bot.app import build_application
    from storage.db import DatabaseLocked

    if settings.token is None:
        raise CliError("TOWERBOT_TOKEN is missing: set it to the token BotFather gave you")
    # a database another program holds locked stops the start here, in one line
    asyncio.run(_check_writable(settings))
    app = build_application(settings)
    try:
        _serve(app, settings)
    except DatabaseLocked as exc:  # locked again between the check and the start-up
        raise CliError(str(exc)) from None
    return 0


def _serve(app: Any, settings: Settings) -> None:
    from telegram import Update

    if settings.webhook_url:  # our own server: secret required, updates kept in the inbox
        from bot.web import ServeError, serve

        try:
            asyncio.run(serve(app, settings))
        except ServeError as exc:
            raise CliError(str(exc)) from None
    else:
        app.run_polling(allowed_updates=Update.ALL_TYPES)


async def _check_writable(settings: Settings) -> None:
    """Open (and migrate) the database and take its write lock once."""
    from storage.db import DatabaseLocked

    db = await _open_db(settings)
    try:
        async with db.transaction():
            pass
    except DatabaseLocked as exc:
        raise CliError(str(exc)) from None
    finally:
        await db.close()


async def _open_db(settings: Settings) -> Any:
    from storage.db import Database, DatabaseLocked

    try:
        return await Database(settings.db).connect()
    except DatabaseLocked as exc:
        raise CliError(str(exc)) from None


async def db_upgrade(settings: Settings) -> int:
    db = await _open_db(settings)
    try:
        print(f"{settings.db}: schema version {await db.schema_version()}")
    finally:
        await db.close()
    return 0


async def org_import(settings: Settings, file: str, parent: str | None) -> int:
    import yaml

    from bot.app import build_services
    from bot.domain.clock import Clock
    from bot.domain.errors import Refusal
    from bot.texts import t

    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {file}: {exc}".splitlines()[0]) from None
    db = await _open_db(settings)
    try:
        services = build_services(settings, db, Clock())
        try:
            result = await services.tower.import_tree(data, parent_code=parent)
        except Refusal as exc:
            raise CliError(t("en", exc.key, **exc.values).replace("&lt;", "<").replace("&gt;", ">")) from None
    finally:
        await db.close()
    print(f"orgs created={result.created} updated={result.updated} unchanged={result.unchanged}")
    return 0


async def backup(settings: Settings, file: str) -> int:
    from tqdm import tqdm

    db = await _open_db(settings)
    try:
        with tqdm(total=1, unit="page", disable=None, desc="backup") as bar:
            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            await db.backup(file, progress)
    finally:
        await db.close()
    print(f"backed up {settings.db} to {file}")
    return 0


async def status(settings: Settings) -> int:
    from bot.status import collect

    db = await _open_db(settings)
    try:
        print(json.dumps(await collect(db), ensure_ascii=False, indent=2))
    finally:
        await db.close()
    return 0
