"""CLI commands that features add (exports); kept apart so cli.py stays small."""

from __future__ import annotations

import argparse
from typing import Any

from bot.settings import Settings


def add_commands(sub: Any) -> None:
    """Features add their sub-commands here."""


async def dispatch(args: argparse.Namespace, settings: Settings) -> int | None:
    raise SystemExit(f"unknown command {args.command}")
