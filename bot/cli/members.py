"""`towerbot members import FILE.xlsx|csv [--skip-bad]` and `towerbot members purge`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.cli.common import CliError, open_db
from bot.settings import Settings


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `members` command and its two verbs."""
    members = sub.add_parser("members", help="pre-registrations from an existing roster")
    verbs = members.add_subparsers(dest="members_command", required=True)
    imp = verbs.add_parser(
        "import",
        help="load a roster (.xlsx or .csv: name, org code, phone, "
        "role; zh headers 姓名 组织代码 手机号 职务 too)",
    )
    imp.add_argument("file")
    imp.add_argument(
        "--skip-bad",
        action="store_true",
        help="import the good rows even if some are bad (default: import nothing)",
    )
    verbs.add_parser("purge", help="delete every pre-registration nobody has claimed yet")


async def members(args: argparse.Namespace, settings: Settings) -> int:
    """Run `towerbot members ...`; exit 1 when bad rows stopped (or were left out of) the import."""
    if args.members_command == "purge":
        return await _purge(settings)
    return await _import(settings, Path(args.file), args.skip_bad)


async def _import(settings: Settings, path: Path, skip_bad: bool) -> int:
    from tqdm import tqdm

    from bot.app import build_services
    from bot.domain.clock import Clock
    from bot.domain.roster import RosterFileError, describe, read_rows

    try:
        rows = read_rows(path)
    except RosterFileError as exc:
        raise CliError(str(exc)) from None
    db = await open_db(settings)
    try:
        services = build_services(settings, db, Clock())
        # on a terminal only (quiet when piped), like the exports, the backup and org import
        with tqdm(
            total=max(len(rows) - 1, 0), unit="row", disable=None, desc="members import"
        ) as bar:
            report = await services.roster.import_rows(rows, skip_bad=skip_bad, progress=bar.update)
    except RosterFileError as exc:
        raise CliError(str(exc)) from None
    finally:
        await db.close()
    for line in describe(report.problems):
        print(line, file=sys.stderr)
    bad_rows = len({p.row for p in report.problems})
    if not report.written:
        print(
            f"{bad_rows} bad row(s): nothing imported (fix them, or use --skip-bad)",
            file=sys.stderr,
        )
        return 1
    print(
        f"members created={report.created} updated={report.updated} "
        f"already_registered={report.registered} skipped_bad={bad_rows}"
    )
    return 1 if bad_rows else 0


async def _purge(settings: Settings) -> int:
    from bot.app import build_services
    from bot.domain.clock import Clock

    db = await open_db(settings)
    try:
        gone = await build_services(settings, db, Clock()).roster.purge()
    finally:
        await db.close()
    print(f"pre-registrations deleted={gone}")
    return 0
