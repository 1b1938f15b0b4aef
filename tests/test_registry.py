"""The hook registry: one per Application, filled once by the features, never shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Update

from bot.app import build_application
from bot.context import Context, Hooks, hooks_of
from bot.emulator import Emulator
from bot.settings import Settings
from tests.conftest import start_harness


def _app(tmp_path: Path, name: str) -> object:
    em = Emulator()
    settings = Settings(token=em.token, db=str(tmp_path / f"{name}.sqlite3"))
    return build_application(settings, request=em.request(), get_updates_request=em.request())


def test_two_applications_do_not_share_hooks(tmp_path: Path) -> None:
    first, second = _app(tmp_path, "a"), _app(tmp_path, "b")
    a, b = hooks_of(first), hooks_of(second)
    assert a is not b
    for field in ("flows", "deep_links", "me_sections", "forget_hooks", "help_sections",
                  "exports", "org_hooks"):
        assert getattr(a, field) is not getattr(b, field), field
        assert getattr(a, field) == getattr(b, field), field

    async def extra(update: Update, context: Context, rest: str) -> None:
        """A deep link only the first application knows."""

    a.add_deep_link("extra", extra)
    assert "extra" in a.deep_links and "extra" not in b.deep_links


def test_each_hook_is_registered_once(tmp_path: Path) -> None:
    """Building several applications no longer piles copies into shared lists."""
    for name in ("a", "b", "c"):
        hooks = hooks_of(_app(tmp_path, name))
        assert len(hooks.help_sections) == len(set(hooks.help_sections))
        assert len(hooks.me_sections) == len(set(hooks.me_sections)) == 2
        assert len(hooks.forget_hooks) == len(set(hooks.forget_hooks)) == 2
        assert len(hooks.org_hooks) == 1
        assert set(hooks.exports) == {"hours", "myhours", "members", "activities", "campaign"}
        assert set(hooks.deep_links) == {"join", "help", "act", "actin", "sub"}


def test_a_second_registration_of_one_name_is_refused() -> None:
    hooks = Hooks()

    async def flow(update: Update, context: Context) -> None:
        """A guided flow."""

    hooks.add_flow("x", flow)
    with pytest.raises(ValueError, match="registered twice"):
        hooks.add_flow("x", flow)
    with pytest.raises(ValueError, match="registered twice"):
        hooks.add_export("k", lambda u, c, a: flow(u, c))
        hooks.add_export("k", lambda u, c, a: flow(u, c))


async def test_a_running_application_reads_only_its_own_hooks(tmp_path: Path) -> None:
    """A deep link added to one running bot is unknown to another in the same process."""
    ctx_a, a = await start_harness(tmp_path, db_name="a.sqlite3")
    ctx_b, b = await start_harness(tmp_path, db_name="b.sqlite3")
    try:
        seen: list[str] = []

        async def probe(update: Update, context: Context, rest: str) -> None:
            """Records the payload it was opened with."""
            seen.append(rest)

        hooks_of(a.app).add_deep_link("probe", probe)
        user_a, user_b = a.em.add_user("A"), b.em.add_user("B")
        await a.send(user_a, None, "/start probe_here")
        assert seen == ["here"]
        answered = await b.send(user_b, None, "/start probe_there")
        assert seen == ["here"] and answered  # the other bot says the link is not known
    finally:
        await ctx_b.__aexit__(None, None, None)
        await ctx_a.__aexit__(None, None, None)
