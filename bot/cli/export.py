"""`towerbot export`: .xlsx exports that features add.

`towerbot export <kind> [--org CODE] [--year YYYY] [--id N] -o FILE.xlsx`. A feature adds a kind
by putting `EXPORTS["members"] = async_fn(args, services, progress) -> bytes` (and any options
it needs in `add_commands`); `kind` accepts whatever EXPORTS holds.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.cli.common import CliError, open_db
from bot.settings import Settings

Progress = Callable[[int], object]  # e.g. tqdm.update, which returns a bool
ExportFn = Callable[[argparse.Namespace, Any, Progress], Awaitable[bytes]]


async def _export_hours(args: argparse.Namespace, services: Any, progress: Progress) -> bytes:
    """Hour entries, per-person and per-org totals of the subtree of --org."""
    from bot.domain import export_hours as xl
    from bot.domain.errors import Refusal
    from bot.texts import t

    if not args.org:
        raise CliError("export hours needs --org CODE")
    try:
        org = await services.tower.org_by_code(args.org)
    except Refusal as exc:
        raise CliError(t("en", exc.key, **exc.values)) from None
    return await xl.subtree_workbook(
        services.hours, org, year=args.year, lang=services.settings.language, progress=progress
    )


#: export kinds: name -> coroutine building the .xlsx bytes
EXPORTS: dict[str, ExportFn] = {"hours": _export_hours}


async def _export_stats(args: argparse.Namespace, services: Any, progress: Progress) -> bytes:
    """Issue 6: members or activities of the subtree of --org; campaign --id N."""
    from bot.domain.errors import Refusal
    from bot.texts import t

    lang = services.settings.language
    try:
        if args.kind == "campaign":
            if not args.id:
                raise CliError("export campaign needs --id N")
            data, _ = await services.stats.campaign_workbook(None, args.id, lang)
            return data
        if not args.org:
            raise CliError(f"export {args.kind} needs --org CODE")
        org = await services.tower.org_by_code(args.org)
    except Refusal as exc:
        raise CliError(t("en", exc.key, **exc.values)) from None
    if args.kind == "members":
        return await services.stats.members_workbook(org, lang)
    return await services.stats.activities_workbook(org, lang)


EXPORTS.update(members=_export_stats, activities=_export_stats, campaign=_export_stats)


def _year(text: str) -> int:
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a year like 2025")
    return int(text)


def add_commands(sub: Any) -> None:
    """Features add their sub-commands here."""
    exp = sub.add_parser("export", help="write an .xlsx export (hours, ...)")
    exp.add_argument("kind", choices=EXPORTS, help="what to export")
    exp.add_argument("--org", help="org code: the subtree to export")
    exp.add_argument("--year", type=_year, help="only this calendar year (served date)")
    exp.add_argument("--id", type=int, help="the item to export, for kinds that need one")
    exp.add_argument("-o", "--output", required=True, help="the .xlsx file to write")


async def export(args: argparse.Namespace, settings: Settings) -> int:
    """Build the export with a progress bar on a terminal (quiet when piped) and write it."""
    from tqdm import tqdm

    from bot.app import build_services
    from bot.domain.clock import Clock

    out = Path(args.output)
    db = await open_db(settings)
    try:
        services = build_services(settings, db, Clock())
        with tqdm(unit="row", disable=None, desc=f"export {args.kind}") as bar:
            data = await EXPORTS[args.kind](args, services, bar.update)
        detail = f"cli {args.kind} {args.year or ''} {args.id or ''}".strip()
        await services.privacy.log_export(None, None, detail, org_code=args.org)  # audit_log
    finally:
        await db.close()
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes)")
    return 0
