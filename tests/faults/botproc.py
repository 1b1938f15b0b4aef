"""The real bot as a separate process, for the fault suite (kill -9, outages, locks).

    python tests/faults/botproc.py --db FILE --api URL --token T --superuser ID [--rate R]

It builds the application exactly as `towerbot run` does (`build_application(Settings(...))`)
and long-polls the Bot API server at URL (the emulator the test serves over HTTP) until it is
killed. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from telegram import Update

from bot.app import build_application
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--api", required=True, help="base url of the Bot API server")
    parser.add_argument("--token", required=True)
    parser.add_argument("--superuser", type=int, action="append", default=[])
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    settings = Settings(
        _env_file=None,
        token=args.token,
        db=args.db,
        api_base_url=args.api.rstrip("/") + "/bot",
        superusers=args.superuser,
        rate=args.rate,
        flood_limit=10_000,  # the tests type faster than any person
    )
    app = build_application(settings)
    app.run_polling(poll_interval=0.0, timeout=2, allowed_updates=Update.ALL_TYPES)
    return 0


if __name__ == "__main__":
    sys.exit(main())
