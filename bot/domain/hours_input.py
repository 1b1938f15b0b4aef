"""What people type for /hours: the one-line form and the guided steps, validated.

A date word at the start of the description (`昨天`, `12月8日`, `上周六`, `2026-11-20`) is always
taken as the date, never kept in the description; when it reads two ways (or only as a day in
the future) the entry comes back with `choices` to offer as buttons.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from bot.domain import validate
from bot.domain.errors import Refusal
from bot.domain.when import leading_day, read_when

MAX_DAYS_BACK = 365
MAX_DESCRIPTION = 500

_HOURS_RE = re.compile(r"^[0-9]{1,6}(?:[.,][0-9]{1,6})?$")
#: matched on validate.digit_shape; full-width － and ／ separate a date too
_DATE_LIKE = re.compile(r"^[0-9]{1,4}[-/.－／][0-9]{1,2}[-/.－／][0-9]{1,2}$")


class HoursInput(BaseModel):
    """One /hours entry, validated. `model_validate(..., context={"today": date})`.

    `choices` (when not empty): the days the date may mean; `served_on` is the first of them.
    """

    hours: Decimal
    served_on: date
    description: str
    choices: tuple[date, ...] = ()

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: Decimal) -> Decimal:
        if not value.is_finite() or value <= 0 or value > 24:
            raise PydanticCustomError("err_hours_range", "hours out of range")
        if (value * 4) != (value * 4).to_integral_value():
            raise PydanticCustomError("err_hours_step", "hours not in quarter steps")
        return value

    @field_validator("served_on")
    @classmethod
    def _served_on(cls, value: date, info: ValidationInfo) -> date:
        today: date = (info.context or {})["today"]
        if value > today:
            raise PydanticCustomError("err_hours_date_future", "date in the future")
        if value < today - timedelta(days=MAX_DAYS_BACK):
            raise PydanticCustomError("err_hours_date_old", "date too old")
        return value

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        value = normalise_description(value)
        if not value:
            raise PydanticCustomError("err_hours_desc_empty", "description empty")
        if len(value) > MAX_DESCRIPTION:
            raise PydanticCustomError(
                "err_hours_desc_long", "description too long", {"got": len(value)}
            )
        if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in value):
            raise PydanticCustomError("err_hours_desc_control", "control characters")
        return value

    @property
    def quarters(self) -> int:
        return int(self.hours * 4)


def normalise_description(text: str) -> str:
    """NFC, every run of whitespace (line breaks included) becomes one space, ends stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def examples(today: date) -> dict[str, str]:
    """Values for the examples every /hours complaint carries."""
    return {"example_date": (today - timedelta(days=1)).isoformat()}


def parse_amount(text: str | None, today: date) -> Decimal:
    """A number of hours as typed ("2", "2.5", "２，５"), checked for range and quarter steps."""
    token = validate.ascii_digits((text or "").strip()).replace("，", ",")
    if not _HOURS_RE.match(token):
        raise Refusal("err_hours_number", got=validate.excerpt(text, 20), **examples(today))
    try:
        hours = Decimal(token.replace(",", "."))
    except InvalidOperation:  # pragma: no cover - the regex keeps these out
        raise Refusal(
            "err_hours_number", got=validate.excerpt(text, 20), **examples(today)
        ) from None
    return _checked(hours, today, "x").hours


def parse_day(text: str | None, today: date) -> tuple[date | None, tuple[date, ...]]:
    """A day of service typed in the guided form: (the day, ()) or (None, the days it may mean)."""
    try:
        found = read_when(text, today, want="past")
    except Refusal as exc:
        if exc.key == "err_foreign_digits":
            raise
        raise Refusal("err_hours_day", got=validate.excerpt(text, 30), **examples(today)) from None
    if found.value is not None:
        return _checked(Decimal(1), today, "x", found.value.day).served_on, ()
    return None, tuple(r.day for r in found.choices)


def parse_description(text: str | None, today: date) -> str:
    """What was done, as the guided form's answer."""
    return _checked(Decimal(1), today, text or "").description


def _checked(
    hours: Decimal,
    today: date,
    description: str,
    served_on: date | None = None,
    choices: tuple[date, ...] = (),
) -> HoursInput:
    try:
        return HoursInput.model_validate(
            {
                "hours": hours,
                "served_on": served_on or today,
                "description": description,
                "choices": choices,
            },
            context={"today": today},
        )
    except ValidationError as exc:
        error = exc.errors()[0]
        key = error["type"] if error["type"].startswith("err_hours_") else "usage_hours"
        values: dict[str, Any] = dict(examples(today))
        values.update(error.get("ctx") or {})
        values.setdefault("got", "")
        values.update(
            max=MAX_DESCRIPTION,
            days=MAX_DAYS_BACK,
            oldest=(today - timedelta(days=MAX_DAYS_BACK)).isoformat(),
        )
        raise Refusal(key, **values) from None


def parse_hours(text: str | None, today: date) -> HoursInput:
    """Parse '<hours> [date] <description>' (the text after /hours).

    Raises only `Refusal`, whose key names what is wrong; each text carries an example.
    """
    words = (text or "").split(maxsplit=1)
    if not words:
        raise Refusal("usage_hours", **examples(today))
    hours = parse_amount(words[0], today)
    rest = words[1] if len(words) > 1 else ""
    try:
        found = leading_day(rest, today, want="past")
    except Refusal as exc:
        if exc.key == "err_foreign_digits":
            raise
        raise Refusal(
            "err_hours_date_invalid", got=validate.excerpt(rest.split()[0], 20), **examples(today)
        ) from None
    first = rest.split(maxsplit=1)[0] if rest.strip() else ""
    # a first word shaped like a date (in any kind of digits) must be one
    if _DATE_LIKE.match(validate.digit_shape(first)) and found.end < len(first):
        validate.ascii_digits(first)
        raise Refusal("err_hours_date_invalid", got=validate.excerpt(first, 20), **examples(today))
    description = rest[found.end :]
    if found.value is not None:
        return _checked(hours, today, description, found.value.day)
    choices = tuple(
        r.day for r in found.choices if today - timedelta(days=MAX_DAYS_BACK) <= r.day <= today
    )
    if not found.choices:
        return _checked(hours, today, description)
    if not choices:
        return _checked(hours, today, description, found.choices[0].day)
    return _checked(hours, today, description, choices[0], choices)
