"""Posts and shifts of an activity, as the organiser types them:
`| 岗位 引导 50, 检票 30 09:00-12:00, 医疗 5` (en: `| posts Guides 50, Tickets 30 09:00-12:00`).

Each post is `<name> <capacity> [HH:MM-HH:MM]`, separated by `,` `，` `、` `;` or `；`. A shift is
on the activity's day (in the configured zone) and its length, in whole quarter-hours, is what
that post's people are credited; a post without a shift credits the activity's hours.

A person holds at most one post of an activity: a press on another post while they hold (or
wait for) one is refused with the name of the post they hold; Cancel frees them to choose again.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, time

from pydantic import BaseModel

from bot.domain import validate
from bot.domain.clock import local
from bot.domain.errors import Refusal
from bot.domain.models_activities import Activity, Post
from bot.settings import Settings

POST_WORDS = ("岗位", "posts", "post")
MAX_POSTS = 20  # 20 post buttons + Cancel stay far inside an inline keyboard's 100 buttons
MAX_NAME = 16  # a button reads "引导 12/50": the name must leave room for the fill
_SPLIT_RE = re.compile(r"[,，、;；]")
_SHIFT_RE = re.compile(r"^([0-9]{1,2})[:：]([0-9]{2})\s*[-–~～至]\s*([0-9]{1,2})[:：]([0-9]{2})$")


class PostInput(BaseModel):
    """One post as typed: its name, capacity and shift (clock times, minutes after midnight;
    `shift_start`/`shift_end`: the same as Unix times once the day is known)."""

    name: str
    capacity: int
    shift: tuple[int, int] | None = None
    shift_start: float | None = None
    shift_end: float | None = None


def is_posts_field(text: str) -> bool:
    """Does this `|` field define posts (it starts with 岗位 / posts)?"""
    words = _norm(text).split(maxsplit=1)
    return bool(words) and words[0].lower() in POST_WORDS


def _norm(text: str | None) -> str:
    return " ".join(unicodedata.normalize("NFKC", text or "").split())


def parse_posts(text: str, max_capacity: int, ex: dict[str, str]) -> list[PostInput]:
    """The posts of a `岗位 …` field, each checked; a bad one refused with one line."""
    validate.ascii_digits(text)  # other scripts' digits are refused, not guessed
    words = _norm(text).split(maxsplit=1)
    items = [i.strip() for i in _SPLIT_RE.split(words[1] if len(words) > 1 else "")]
    items = [i for i in items if i]
    if not items:
        raise Refusal("err_post_none", **ex)
    if len(items) > MAX_POSTS:
        raise Refusal("err_post_many", max=MAX_POSTS, got=len(items), **ex)
    out: list[PostInput] = []
    seen: set[str] = set()
    for item in items:
        post = _one(item, max_capacity, ex)
        if post.name.casefold() in seen:
            raise Refusal("err_post_dup", name=post.name, **ex)
        seen.add(post.name.casefold())
        out.append(post)
    return out


def _one(item: str, max_capacity: int, ex: dict[str, str]) -> PostInput:
    tokens = item.split()
    shift: tuple[int, int] | None = None
    # a shift is the last token, or the last three ("09:00 - 12:00")
    for size in (1, 3):
        if len(tokens) > size and _SHIFT_RE.match(" ".join(tokens[-size:])):
            shift = _shift(" ".join(tokens[-size:]), ex)
            tokens = tokens[:-size]
            break
    if len(tokens) < 2 or not tokens[-1].isdigit() or not tokens[-1].isascii():
        raise Refusal("err_post_item", got=validate.excerpt(item), **ex)
    name = " ".join(tokens[:-1])
    if len(name) > MAX_NAME:
        raise Refusal("err_post_name_long", max=MAX_NAME, got=validate.excerpt(name), **ex)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cf") for ch in name):
        raise Refusal("err_post_item", got=validate.excerpt(item), **ex)
    capacity = int(tokens[-1]) if len(tokens[-1]) <= 6 else 0
    if not 1 <= capacity <= max_capacity:
        raise Refusal("err_post_capacity", name=name, got=tokens[-1][:12], max=max_capacity, **ex)
    return PostInput(name=name, capacity=capacity, shift=shift)


def _shift(text: str, ex: dict[str, str]) -> tuple[int, int]:
    match = _SHIFT_RE.match(text)
    assert match is not None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or end > 24 * 60 or end - start < 15:
        raise Refusal("err_post_shift", got=validate.excerpt(text), **ex)
    return start, end


def on_day(posts: list[PostInput], starts_at: float, settings: Settings) -> list[PostInput]:
    """The posts with their shifts as Unix times on the activity's day (in the zone)."""
    day = local(starts_at, settings.tz).date()
    midnight = datetime.combine(day, time(0, 0), tzinfo=settings.tz).timestamp()
    return [
        p
        if p.shift is None
        else p.model_copy(
            update={
                "shift_start": midnight + p.shift[0] * 60,
                "shift_end": midnight + p.shift[1] * 60,
            }
        )
        for p in posts
    ]


def quarters_of(activity: Activity, post_no: int | None) -> int:
    """The quarter-hours a person of this post is credited: the shift's whole quarter-hours,
    else the activity's."""
    post = activity.post(post_no)
    if post is None or post.shift_start is None or post.shift_end is None:
        return activity.quarters
    return max(1, int((post.shift_end - post.shift_start) // 900))


def starts_of(activity: Activity, post_no: int | None) -> float:
    """When this post's people start: the shift's start, else the activity's."""
    post = activity.post(post_no)
    if post is None or post.shift_start is None:
        return activity.starts_at
    return post.shift_start


def shift_of(activity: Activity, post_no: int | None) -> Post | None:
    """The post `post_no` if it has a shift of its own (its people are reminded of the
    shift's start and get its times in their calendar file), else None."""
    post = activity.post(post_no)
    return post if post is not None and post.shift_start is not None else None


def post_name(activity: Activity, post_no: int | None) -> str:
    """The post's name ('' without one)."""
    post = activity.post(post_no)
    return post.name if post is not None else ""


def with_counts(post: Post, confirmed: int, waiting: int) -> Post:
    """The post with new counters."""
    return post.model_copy(update={"confirmed": confirmed, "waiting": waiting})
