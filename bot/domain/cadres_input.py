"""What staff type after /cadres: positions, modes, terms and post references, validated.

Pure functions (no database): a bad word raises `Refusal` with the usage in its answer.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from pydantic import BaseModel

from bot.domain.errors import Refusal

#: position codes, in the order the roster lists them
POSITIONS = ("secretary", "deputy", "committee")
POSITION_WORDS = {
    "书记": "secretary",
    "secretary": "secretary",
    "副书记": "deputy",
    "deputy": "deputy",
    "委员": "committee",
    "committee": "committee",
    "member": "committee",
}
MODES = ("full", "seconded", "part")
MODE_WORDS = {
    "专职": "full",
    "full": "full",
    "full-time": "full",
    "挂职": "seconded",
    "seconded": "seconded",
    "兼职": "part",
    "part": "part",
    "part-time": "part",
}
#: how many posts one command may declare at once
MAX_ADD = 20
#: the longest term accepted (团的基层组织 terms are 3–5 years)
MAX_TERM_YEARS = 10
_DATE_RE = re.compile(r"^([0-9]{4})[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})日?$")
_ID_RE = re.compile(r"^#?([0-9]{1,12})$")


class Term(BaseModel):
    """A term of office: local dates, start before end."""

    start: str
    end: str


class PostRef(BaseModel):
    """A post as typed: its number (`post_id`) or a position of the chat's org."""

    post_id: int | None = None
    position: str | None = None


def _norm(word: str) -> str:
    return unicodedata.normalize("NFKC", word).strip().lower()


def _code(words: dict[str, str], word: str, key: str) -> str:
    """The code `word` stands for in `words`; `key` is the refusal when it stands for none."""
    found = words.get(_norm(word))
    if found is None:
        raise Refusal(key, got=word[:20])
    return found


def parse_position(word: str) -> str:
    """书记 / 副书记 / 委员 (or secretary / deputy / committee)."""
    return _code(POSITION_WORDS, word, "err_cadre_position")


def is_mode(word: str) -> bool:
    return _norm(word) in MODE_WORDS


def parse_mode(word: str) -> str:
    """专职 / 挂职 / 兼职 (or full / seconded / part)."""
    return _code(MODE_WORDS, word, "err_cadre_mode")


def parse_date(word: str) -> date:
    """2026-01-01, 2026/1/1, 2026.1.1 or 2026年1月1日."""
    m = _DATE_RE.match(_norm(word))
    if not m:
        raise Refusal("err_cadre_date", got=word[:20])
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Refusal("err_cadre_date", got=word[:20]) from None


def parse_term(start: str, end: str) -> Term:
    """Two dates: the term's first and last day."""
    first, last = parse_date(start), parse_date(end)
    if last <= first:
        raise Refusal("err_cadre_term_order")
    if (last - first).days > 366 * MAX_TERM_YEARS:
        raise Refusal("err_cadre_term_long", years=MAX_TERM_YEARS)
    return Term(start=first.isoformat(), end=last.isoformat())


def parse_post(word: str) -> PostRef:
    """'#12' / '12' (a post's number) or a position word (the chat's org's post of it)."""
    m = _ID_RE.match(_norm(word))
    if m:
        return PostRef(post_id=int(m[1]))
    return PostRef(position=parse_position(word))


def parse_count(word: str | None) -> int:
    """How many posts to declare (1 when not given)."""
    if word is None:
        return 1
    text = _norm(word)
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_ADD:
        raise Refusal("err_cadre_count", most=MAX_ADD)
    return int(text)


class Appointment(BaseModel):
    """The words after `/cadres appoint <post>` (the person is a reply or an @username)."""

    username: str | None = None
    mode: str | None = None
    term: Term | None = None


def parse_appointment(words: list[str]) -> Appointment:
    """`[@username] [专职|挂职|兼职] [<start> <end>]`, in any order of the three parts."""
    out = Appointment()
    dates: list[str] = []
    for word in words:
        if word.startswith("@") and out.username is None:
            out.username = word
        elif is_mode(word) and out.mode is None:
            out.mode = parse_mode(word)
        elif len(dates) < 2 and _DATE_RE.match(_norm(word)):
            dates.append(word)
        else:
            raise Refusal("usage_cadres")
    if len(dates) == 1:
        raise Refusal("err_cadre_term_two")
    if dates:
        out.term = parse_term(dates[0], dates[1])
    return out
