"""Trust, class B: strict input. Numbers are ASCII (full-width read as ASCII, any other digit
refused), names and titles hold no invisible or control characters, echoed input is cut to an
excerpt, lengths count what was typed.

Through the emulator, in Chinese and English: 18 foreign digits × 9 numeric commands, 20 invisible
format characters and 8 control characters × 3 name/title commands, 6 over-long inputs × 7
commands (up to 20,000 characters), and 6 HTML-heavy inputs at the length limits; each refusal is
one line in the person's language, no internal error, and a dump of every table is unchanged.
Pure checks: every Unicode number character (about 1,900) against `ascii_digits`, and hypothesis
runs (300 examples each) for Cf characters, excerpts and answer lengths. Activity commands are
wired through bot/domain/activities/parsing.py like the others.
"""

from __future__ import annotations

import sys
import unicodedata
from datetime import date, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.domain import campaigns, hours, validate
from bot.domain.errors import Refusal
from bot.settings import Settings
from bot.texts import t
from tests.conftest import Harness
from tests.dbdump import volatile

FOREIGN = [
    "²",
    "³",
    "½",
    "٣",
    "۳",
    "३",
    "৩",
    "๓",
    "①",
    "⑩",
    "𝟑",
    "𝟘",
    "Ⅻ",
    "三",
    "¹",
    "᠓",
    "߃",
    "𝍩",
]
INVISIBLE = [
    "\u200b",
    "\u200c",
    "\u200d",
    "\ufeff",
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u00ad",
    "\u200e",
    "\u200f",
    "\u061c",
    "\u2060",
    "\u180e",
    "\U000e0041",
]
CONTROL = ["\x07", "\x1b", "\x00", "\x7f", "\x85", "\x9b", "\u2028", "\u2029"]
LONG = ["9" * 5000 + "x", "x" * 20000, "<" * 8000, "&" * 4096, "长" * 6000, "🙂" * 3000]
MARK = {
    "digits": {"zh": "请只用 0–9 书写数字", "en": "write numbers with 0–9 only"},
    "invisible": {"zh": "不可见的格式字符", "en": "invisible formatting character"},
    "control": {"zh": "控制字符", "en": "control character"},
}
INTERNAL = {"zh": t("zh", "err_internal"), "en": t("en", "err_internal")}


def when(days: int) -> str:
    tz = Settings().tz
    return datetime.fromtimestamp(datetime.now(tz).timestamp() + days * 86400, tz).strftime(
        "%Y-%m-%d %H:%M"
    )


async def dump(tb: Harness) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sorted), to show a refused input changed nothing."""
    tables = await tb.db.tables()
    out = {}
    for name in tables:
        found = map(tuple, await tb.db.fetchall(f'SELECT * FROM "{name}"'))
        out[name] = sorted((r for r in found if not volatile(name, r)), key=repr)
    return out


async def refused(
    tb: Harness, user: dict, chat: dict | None, text: str, lang: str, names: str = ""
) -> str:
    """Send `text`; the one answer is a single line in `lang` (but for the data it names:
    `names`, e.g. org names); nothing in the database moved."""
    before = await dump(tb)
    answers = await tb.send(user, chat, text)
    after = await dump(tb)
    assert len(answers) == 1, (text[:60], [a.text for a in answers])
    answer = answers[0].text or ""
    assert len(answer) <= 4096 and "Traceback" not in answer and answer != INTERNAL[lang]
    if lang == "en":
        foreign = set(answer) - set(text) - set(names)
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in foreign), answer
    changed = [name for name in before if before[name] != after[name]]
    assert not changed, (text[:60], changed)
    return answer


async def speaking(tb: Harness, tower: dict[str, Any], lang: str) -> None:
    """Everyone of the tower reads `lang` (and the emulator's rate limits, tested elsewhere, are
    off: these tests send many commands a second into one group)."""
    tb.em.limits = False
    for who in ("boss", "sec_a", "member_a"):
        await tb.send(tower[who], None, f"/lang {lang}")


def numeric_commands(d: str, campaign_id: int) -> list[tuple[str, str]]:
    """(who, command) pairs in which `d` stands where a number belongs."""
    return [
        ("member_a", f"/hours {d} 服务"),
        ("member_a", f"/hours 1{d}.5 服务"),
        ("member_a", f"/hours 1 2026-0{d}-01 服务"),
        ("boss", f"/deadline new 述职 | 2027-0{d}-01 18:00"),
        ("boss", f"/deadline status {d}"),
        ("sec_a", f"/submit {d}"),
        ("boss", f"/export campaign {campaign_id}{d}"),
        ("boss", f"/export hours 202{d}"),
        ("boss", f"/org add yanshan.x{d} 新组织"),
    ]


def chat_of(tower: dict[str, Any], who: str, command: str) -> dict | None:
    private = command.startswith(("/hours", "/submit"))
    return None if private else tower["root"]


# --- numbers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_foreign_digits_are_refused_everywhere(tb: Harness, tower: dict, lang: str) -> None:
    await speaking(tb, tower, lang)
    await tb.send(tower["boss"], tower["root"], f"/deadline new 述职 | {when(30)}")
    tried = 0
    for d in FOREIGN:
        for who, command in numeric_commands(d, 1):
            answer = await refused(tb, tower[who], chat_of(tower, who, command), command, lang)
            assert MARK["digits"][lang] in answer and "\n" not in answer, (command, answer)
            assert f"U+{ord(d):04X}" in answer
            tried += 1
    assert tried == len(FOREIGN) * 9


async def test_full_width_digits_read_as_ascii(tb: Harness, tower: dict) -> None:
    ma = tower["member_a"]
    yesterday = date.today().toordinal() - 1
    day = (
        date.fromordinal(yesterday)
        .isoformat()
        .translate({ord(c): 0xFF10 + int(c) for c in "0123456789"})
    )
    await tb.send(ma, None, f"/hours ２．５ {day} 全角")
    row = await tb.db.fetchone("SELECT quarters, served_on, description FROM hour_entries")
    assert tuple(row) == (10, date.fromordinal(yesterday).isoformat(), "全角")
    due = when(30).translate({ord(c): 0xFF10 + int(c) for c in "0123456789"}).replace(":", "：")
    await tb.send(tower["boss"], tower["root"], f"/deadline new 全角述职 | {due}")
    assert (await tb.db.fetchone("SELECT title FROM campaigns"))[0] == "全角述职"
    status = await tb.send(tower["boss"], tower["root"], "/deadline status １")
    assert "全角述职" in (status[0].text or "")


def test_every_unicode_number_character() -> None:
    """Each of Python's digits/numerics: ASCII and full-width pass, every other one is refused."""
    numeric = [
        chr(i)
        for i in range(sys.maxunicode + 1)
        if chr(i).isnumeric() or unicodedata.category(chr(i)) in ("Nd", "Nl", "No")
    ]
    assert len(numeric) > 1800
    for ch in numeric:
        if "0" <= ch <= "9":
            assert validate.ascii_int(ch, key="x") == int(ch)
        elif "０" <= ch <= "９":
            assert validate.ascii_int(ch, key="x") == ord(ch) - 0xFF10
        else:
            with pytest.raises(Refusal) as caught:
                validate.ascii_int(f"1{ch}", key="x")
            assert caught.value.key == "err_foreign_digits", ch
            with pytest.raises(Refusal):
                hours.parse_hours(f"{ch} 服务", date(2026, 3, 15))


# --- invisible and control characters --------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_invisible_and_control_characters_in_names_and_titles(
    tb: Harness, tower: dict, lang: str
) -> None:
    await speaking(tb, tower, lang)
    newcomer = tb.em.add_user("新人", language_code="zh-hans" if lang == "zh" else "en")
    await tb.send(newcomer, None, "/start join_yanshan-dabu")
    await tb.press(newcomer, tb.em.messages_to(newcomer["id"])[-1], "reg:age:n")
    boss, root = tower["boss"], tower["root"]
    tried = 0
    for ch, kind in [(c, "invisible") for c in INVISIBLE] + [(c, "control") for c in CONTROL]:
        for user, chat, command in (
            (newcomer, None, f"王{ch}五"),
            (boss, root, f"/org add yanshan.new 新{ch}组织"),
            (boss, root, f"/deadline new 述{ch}职 | {when(30)}"),
        ):
            if ch in "\x85\u2028\u2029" and command.startswith("/org"):
                continue  # a separator splits the command's words: no longer one name
            answer = await refused(tb, user, chat, command, lang)
            assert MARK[kind][lang] in answer and "\n" not in answer, (repr(command), answer)
            tried += 1
    assert tried >= (len(INVISIBLE) + len(CONTROL)) * 3 - 3


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20), st.characters(categories=["Cf"]), st.text(max_size=20))
def test_any_format_character_is_refused(head: str, cf: str, tail: str) -> None:
    text = "名" + head + cf + tail
    with pytest.raises(Refusal) as caught:
        validate.clean_text(text, max_len=100, field="name")
    assert caught.value.key in ("err_invisible_chars", "err_control_chars")
    with pytest.raises(Refusal):
        campaigns.parse_new(f"{text} | 2099-01-01 00:00", Settings().tz, 0)


# --- echoes and lengths ----------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_echoed_input_is_an_excerpt(tb: Harness, tower: dict, lang: str) -> None:
    await speaking(tb, tower, lang)
    boss, root, ma, sec_a = tower["boss"], tower["root"], tower["member_a"], tower["sec_a"]
    for junk in LONG:
        for user, chat, command in (
            (ma, None, f"/hours {junk} 服务"),
            # (/hours alone starts the guided entry now: a refused one-liner stands in for it)
            (ma, None, f"/hours 1 {junk[:3]}-1-1 服务")
            if junk[0] == "9"
            else (ma, None, "/hours 0 服务"),
            (boss, root, f"/deadline status {junk}"),
            (boss, root, f"/deadline new 述职 | {junk}"),
            (boss, root, f"/org add {junk} 新组织"),
            (sec_a, None, f"/submit {junk}"),
            (boss, root, f"/bind {junk}"),
        ):
            answer = await refused(tb, user, chat, command, lang)
            assert len(answer) <= 1000, (command[:40], len(answer))
            assert junk[:41] not in answer


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=5000))
def test_no_refusal_outgrows_a_message(text: str) -> None:
    for parse in (
        lambda: hours.parse_hours(text, date(2026, 3, 15)),
        lambda: campaigns.parse_new(text, Settings().tz, 0),
        lambda: campaigns.parse_id(text),
        lambda: validate.org_code(text),
        lambda: validate.clean_text(text, max_len=50, field="name"),
    ):
        try:
            parse()
        except Refusal as exc:
            for lang in ("zh", "en"):
                assert len(t(lang, exc.key, **exc.values)) <= 4096
    assert len(validate.excerpt(text)) <= validate.EXCERPT + 1


async def test_lengths_count_what_was_typed(tb: Harness, tower: dict) -> None:
    tb.em.limits = False
    boss, root = tower["boss"], tower["root"]
    newcomer = tb.em.add_user("新人")
    await tb.send(newcomer, None, "/start join_yanshan-dabu")
    await tb.press(newcomer, tb.em.messages_to(newcomer["id"])[-1], "reg:age:n")
    answer = await refused(tb, newcomer, None, "<" * 51, "zh")
    assert "51" in answer and "50" in answer  # 51 characters, not 204
    await tb.send(newcomer, None, "<&" * 25)
    state = await tb.services.people.registration(newcomer["id"])
    assert state.real_name == "<&" * 25
    await tb.send(boss, root, "/org add yanshan.amp " + "&" * 100)
    assert (await tb.db.fetchone("SELECT name FROM orgs WHERE code = 'yanshan.amp'"))[
        0
    ] == "&" * 100
    await tb.send(boss, root, f"/deadline new {'<' * 100} | {when(30)}")
    assert (await tb.db.fetchone("SELECT title FROM campaigns"))[0] == "<" * 100
    answer = await refused(tb, boss, root, "/announce " + "<" * 3501, "zh")
    assert "3501" in answer and "3500" in answer
    sent = await tb.send(boss, root, "/announce " + "<" * 3500)
    assert sent and (await tb.db.fetchone("SELECT COUNT(*) FROM announcements"))[0] == 1


# --- activities: helpers ready, wiring after the activities package lands --------------------


async def test_activity_inputs_follow_the_same_rules(tb: Harness, tower: dict) -> None:
    tb.em.limits = False
    sec_a, chat_a = tower["sec_a"], tower["chat_a"]
    for command, kind in (
        [(f"/activity 清扫 | {when(7)[:-1]}{d} | 2 | 10 | 村委", "digits") for d in FOREIGN]
        + [(f"/activity 清扫 | {when(7)} | {d} | 10 | 村委", "digits") for d in FOREIGN]
        + [(f"/activity 清扫 | {when(7)} | 2 | 1{d} | 村委", "digits") for d in FOREIGN]
        + [
            (f"/activity 清扫 | {when(7)} | 2 | 10 | 村委 | 25.1{d},110.3", "digits")
            for d in FOREIGN
        ]
        + [(f"/close {d}", "digits") for d in FOREIGN]
        + [(f"/checkin {d}", "digits") for d in FOREIGN]
        + [(f"/activity 清{c}扫 | {when(7)} | 2 | 10 | 村委", "invisible") for c in INVISIBLE]
        + [(f"/activity 清扫 | {when(7)} | 2 | 10 | 村{c}委", "invisible") for c in INVISIBLE]
    ):
        answer = await refused(tb, sec_a, chat_a, command, "zh")
        assert MARK[kind]["zh"] in answer, (command, answer)


# --- the cadre side and changing announcements: odd input, one line, nothing moved -------------


@pytest.mark.parametrize("lang", ["zh", "en"])
async def test_cadre_and_announcement_commands_refuse_odd_input(
    tb: Harness, tower: dict, lang: str
) -> None:
    """Wrong, empty, huge, invisible, foreign-digit and out-of-range arguments of /review,
    /cadres, /request, /requests, /export cadres and /announce at|edit|recall|cancel: one
    line in the person's language, and no row of any table changed."""
    tb.em.limits = False
    boss, sec, member, root, chat_a = (
        tower["boss"],
        tower["sec_a"],
        tower["member_a"],
        tower["root"],
        tower["chat_a"],
    )
    for user in (boss, sec, member):
        await tb.services.people.set_lang(user["id"], lang)
    await tb.drain()
    huge = "9" * 40
    cases: list[tuple[dict, dict | None, str]] = [
        (boss, None, "/review"),
        (boss, None, "/review open"),
        (boss, None, "/review open abc"),
        (boss, None, "/review open 99999"),
        (boss, None, f"/review open {huge}"),
        (boss, None, "/review open -1"),
        (boss, None, "/review open ٣"),
        (boss, None, "/review frobnicate 1"),
        (boss, None, "/review close 1 2"),
        (boss, root, "/review status 1"),
        (member, None, "/review open 1"),
        (boss, chat_a, "/cadres appoint"),
        (boss, chat_a, "/cadres appoint 书记 @nobody_of_this_world"),
        (boss, chat_a, "/cadres appoint 主席 @lina_daxu"),
        (boss, chat_a, "/cadres term 书记 2027-01-01 2026-01-01"),
        (boss, chat_a, "/cadres term 书记 2026-02-30 2027-01-01"),
        (boss, chat_a, "/cadres term 书记 2026-01-01"),
        (boss, chat_a, "/cadres add 书记 0"),
        (boss, chat_a, f"/cadres add 书记 {huge}"),
        (boss, chat_a, "/cadres add 书\u202e记"),
        (boss, chat_a, "/cadres mode 书记 全职"),
        (boss, chat_a, f"/cadres vacate #{huge}"),
        (boss, chat_a, "/cadres " + "x" * 5000),
        (member, chat_a, "/cadres"),
        (boss, None, "/cadres"),
        (sec, None, "/request " + "申" * 2001),
        (sec, None, "/request 申请\u202e经费"),
        (sec, chat_a, "/request 申请经费"),
        (member, None, "/request 申请经费"),
        (member, None, "/requests"),
        (boss, root, "/export cadres 20x6"),
        (boss, root, "/export cadres ٢٠٢٦"),
        (boss, root, f"/export cadres {huge}"),
        (member, chat_a, "/export cadres"),
        (boss, root, "/announce at | 通知"),
        (boss, root, "/announce at 昨天 9:00 | 通知"),
        (boss, root, "/announce at 明天 9:00 | "),
        (boss, root, "/announce at 明天 9:00 | " + "<" * 3501),
        (boss, root, "/announce at 9999-99-99 | 通知"),
        (boss, root, "/announce edit 999 | 新内容"),
        (boss, root, f"/announce edit {huge} | 新内容"),
        (boss, root, "/announce edit abc"),
        (boss, root, "/announce recall 999"),
        (boss, root, "/announce recall"),
        (boss, root, "/announce cancel 999"),
        (member, chat_a, "/announce recall 1"),
    ]
    # data shown as it is (org names) and the Chinese example the English date help gives
    names = "".join(str(r[0]) for r in await tb.db.fetchall("SELECT name FROM orgs")) + "明天"
    for user, chat, text in cases:
        await refused(tb, user, chat, text, lang, names)
