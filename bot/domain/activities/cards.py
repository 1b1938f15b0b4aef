"""An activity's card as the chats see it: its text and its Bot API reply_markup dicts."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.domain.activities import callbacks
from bot.domain.activities.parsing import fmt_hours
from bot.domain.clock import fmt_when, local
from bot.domain.models_activities import Activity
from bot.texts import Raw, t


def count_line(a: Activity, lang: str) -> str:
    """'12/50 · waitlist 3'."""
    return t(lang, "act_count", confirmed=a.confirmed, capacity=a.capacity, waiting=a.waiting)


def card_text(a: Activity, lang: str, now: float, tz: ZoneInfo) -> str:
    """The card: title, time, place, hours, org, the live count and the status."""
    status = ""
    if a.status == "cancelled":
        status = t(lang, "act_card_cancelled")
    elif a.status == "closed":
        status = t(lang, "act_card_closed")
    elif now >= a.deadline:
        status = t(lang, "act_card_started")
    details = series_line(a, lang, tz)
    if a.signup_deadline is not None:
        deadline = fmt_when(a.signup_deadline, tz, lang, today=local(now, tz).date())
        details += t(lang, "act_card_deadline", when=deadline)
    if a.note:
        details += t(lang, "act_card_note", note=a.note)
    return t(
        lang,
        "act_card",
        id=a.id,
        title=a.title + (f" · {t(lang, 'act_kind_' + a.kind)}" if a.kind else ""),
        when=fmt_when(a.starts_at, tz, lang, today=local(now, tz).date()),
        place=a.place,
        hours=fmt_hours(a.quarters),
        org=a.org_name or "",
        count=Raw(count_line(a, lang) + "".join("\n" + line for line in post_lines(a, lang, tz))),
        status=status,
        details=Raw(details),
    )


def post_lines(a: Activity, lang: str, tz: ZoneInfo) -> list[str]:
    """One line per post: '• 引导 12/50 · 候补 3 · 09:00–12:00'."""
    out = []
    for p in a.posts:
        shift = ""
        if p.shift_start is not None and p.shift_end is not None:
            shift = t(
                lang,
                "act_post_shift",
                start=local(p.shift_start, tz).strftime("%H:%M"),
                end=local(p.shift_end, tz).strftime("%H:%M"),
            )
        out.append(
            t(
                lang,
                "act_post_line",
                name=p.name,
                count=t(
                    lang, "act_count", confirmed=p.confirmed, capacity=p.capacity, waiting=p.waiting
                ),
                shift=Raw(shift),
            )
        )
    return out


def post_rows(a: Activity) -> list[list[dict[str, Any]]]:
    """The posts' Sign up buttons ('引导 12/50', '⏳' once full): one per row for up to 3
    posts, two per row up to 8, three per row beyond (20 posts: 7 rows, far inside Telegram's
    limits of 8 buttons a row and 100 a keyboard)."""
    per_row = 1 if len(a.posts) <= 3 else 2 if len(a.posts) <= 8 else 3
    buttons = [
        {
            # button labels are plain text (no HTML): the name as typed, the fill as numbers
            "text": f"{p.name} {p.confirmed}/{p.capacity}"
            + (" ⏳" if p.confirmed >= p.capacity else ""),
            "callback_data": callbacks.build(a.id, "join", p.post_no),
        }
        for p in a.posts
    ]
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def rule_text(rule: str | None, lang: str) -> str:
    """A series' rule in words: '每个工作日' / 'weekdays', '每周六' / 'every Sat'."""
    if rule and rule.startswith("weekly:"):
        return t(lang, "series_rule_weekly", day=Raw(t(lang, f"series_day_{rule[7:]}")))
    return t(lang, "series_rule_weekdays" if rule == "weekdays" else "series_rule_dates")


def series_line(a: Activity, lang: str, tz: ZoneInfo) -> str:
    """'🔁 系列 3/20 · 每个工作日 16:30' on an occurrence's card, else ''."""
    if a.series_id is None:
        return ""
    return t(
        lang,
        "act_card_series",
        no=a.series_no or 0,
        total=a.series_total or 0,
        rule=Raw(rule_text(a.series_rule, lang)),
        time=local(a.starts_at, tz).strftime("%H:%M"),
    )


def card_markup(a: Activity, lang: str, now: float) -> dict[str, Any] | None:
    """Bot API reply_markup of a card: Sign up / Cancel (and Join all on an occurrence of a
    series) while sign-up is open, and Add to calendar until the start."""
    if a.status != "open" or now >= a.starts_at:
        return None
    calendar = [
        {"text": t(lang, "act_btn_calendar"), "callback_data": callbacks.build(a.id, "cal")}
    ]
    if now >= a.deadline:
        return {"inline_keyboard": [calendar]}
    if a.posts:  # one Sign up per post, then Cancel (a series with posts: no Join all)
        leave = {"text": t(lang, "act_btn_leave"), "callback_data": callbacks.build(a.id, "leave")}
        return {"inline_keyboard": [*post_rows(a), [leave], calendar]}
    rows = [
        [
            {"text": t(lang, "act_btn_join"), "callback_data": callbacks.build(a.id, "join")},
            {"text": t(lang, "act_btn_leave"), "callback_data": callbacks.build(a.id, "leave")},
        ]
    ]
    if a.series_id is not None:  # this occurrence and every later open one
        rows.append(
            [{"text": t(lang, "act_btn_join_all"), "callback_data": callbacks.build(a.id, "all")}]
        )
    return {"inline_keyboard": [*rows, calendar]}


def checkin_markup(a: Activity, lang: str) -> dict[str, Any]:
    """Bot API reply_markup of the check-in message: one Check in button."""
    return {
        "inline_keyboard": [
            [{"text": t(lang, "act_btn_checkin"), "callback_data": callbacks.build(a.id, "in")}]
        ]
    }
