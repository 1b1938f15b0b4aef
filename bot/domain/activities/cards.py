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
        count=count_line(a, lang),
        status=status,
        details=Raw(details),
    )


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
