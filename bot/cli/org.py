"""`towerbot org import FILE [--parent CODE]`: create or update orgs from a YAML tree."""

from __future__ import annotations

from pathlib import Path

from bot.cli.common import CliError, open_db
from bot.settings import Settings


async def org_import(settings: Settings, file: str, parent: str | None) -> int:
    """Import the YAML tree in `file` under `parent` (default: the root)."""
    import yaml
    from tqdm import tqdm

    from bot.app import build_services
    from bot.domain.clock import Clock
    from bot.domain.errors import Refusal
    from bot.domain.tower import count_tree
    from bot.texts import t

    try:
        data = yaml.safe_load(Path(file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(f"cannot read {file}: {exc}".splitlines()[0]) from None
    db = await open_db(settings)
    try:
        services = build_services(settings, db, Clock())
        try:
            # on a terminal only (quiet when piped), like the exports and the backup
            with tqdm(total=count_tree(data), unit="org", disable=None, desc="org import") as bar:
                result = await services.tower.import_tree(
                    data, parent_code=parent, progress=bar.update
                )
        except Refusal as exc:
            text = t("en", exc.key, **exc.values)
            raise CliError(text.replace("&lt;", "<").replace("&gt;", ">")) from None
    finally:
        await db.close()
    print(f"orgs created={result.created} updated={result.updated} unchanged={result.unchanged}")
    return 0
