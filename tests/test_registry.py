"""The hook registry: one per Application, filled once by the features, never shared."""

from __future__ import annotations

from pathlib import Path

import pytest
from telegram import Update

from bot.app import build_application
from bot.context import Context, Hooks, hooks_of
from bot.domain.announcements import ack_data, parse_ack_data
from bot.domain.campaigns import parse_submit_data, submit_data
from bot.domain.errors import Refusal
from bot.domain.hours import HoursButton, hours_data, hours_pattern, parse_hours_data
from bot.domain.people import forget_data, parse_forget_data, parse_reg_data, reg_data
from bot.domain.tower import join_payload, parse_join_payload
from bot.emulator import Emulator
from bot.settings import Settings
from tests.conftest import start_harness

# every test here runs on each storage engine (tests/conftest.py)
pytestmark = pytest.mark.usefixtures("engine")


def _app(tmp_path: Path, name: str) -> object:
    em = Emulator()
    settings = Settings(token=em.token, db=str(tmp_path / f"{name}.sqlite3"))
    return build_application(settings, request=em.request(), get_updates_request=em.request())


def test_two_applications_do_not_share_hooks(tmp_path: Path) -> None:
    first, second = _app(tmp_path, "a"), _app(tmp_path, "b")
    a, b = hooks_of(first), hooks_of(second)
    assert a is not b
    for field in (
        "flows",
        "deep_links",
        "me_sections",
        "forget_hooks",
        "help_sections",
        "exports",
        "org_hooks",
    ):
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
        # hours, activities, cadres (posts and training record)
        assert len(hooks.me_sections) == len(set(hooks.me_sections)) == 3
        # hours, activities, the tower (usernames seen for the account), requests, cadres
        assert len(hooks.forget_hooks) == len(set(hooks.forget_hooks)) == 5
        assert len(hooks.org_hooks) == 1
        assert set(hooks.exports) == {
            "hours",
            "myhours",
            "members",
            "activities",
            "campaign",
            "requests",
            "review",
            "training",
            "cadres",
        }
        assert set(hooks.deep_links) == {"join", "help", "act", "actin", "sub", "guard", "cmd"}


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


# --- each feature's callback data: what one function builds, its twin parses -----------------


@pytest.mark.parametrize(
    "button",
    [
        HoursButton("dup", 7, yes=True),
        HoursButton("dup", 7),
        HoursButton("my", 3),
        HoursButton("ok", 12, scope=4),
        HoursButton("no", 12),
        HoursButton("nr", 9),
    ],
)
def test_hours_buttons_round_trip(button: HoursButton) -> None:
    data = hours_data(button)
    assert parse_hours_data(data) == button and len(data.encode()) <= 64
    assert hours_pattern(button.verb).match(data)


@pytest.mark.parametrize(
    ("verb", "value"),
    [
        ("org", 5),
        ("pick", 123456789012),
        ("consent", True),
        ("consent", False),
        ("confirm", True),
    ],
)
def test_registration_buttons_round_trip(verb: str, value: int | bool) -> None:
    assert parse_reg_data(reg_data(verb, value)) == (verb, value)  # type: ignore[arg-type]


def test_other_buttons_round_trip() -> None:
    assert parse_forget_data(forget_data(True)) and not parse_forget_data(forget_data(False))
    assert parse_submit_data(submit_data(3, 17)) == (3, 17, None)
    assert parse_submit_data(submit_data(3, 17, "plan")) == (3, 17, "plan")
    assert parse_ack_data(ack_data(42)) == 42
    assert parse_join_payload(join_payload("yanshan.dabu").split("_", 1)[1]) == "yanshan.dabu"


@pytest.mark.parametrize(
    "data", ["hrs:ok:1", "hrs:dup:1:x", "reg:org:y", "reg:x:1", "sub:1", "ann:x:ack", None]
)
def test_forged_buttons_are_refused(data: str | None) -> None:
    parsers = (parse_hours_data, parse_reg_data, parse_submit_data, parse_ack_data)
    for parse in parsers:
        with pytest.raises(Refusal):
            parse(data)
