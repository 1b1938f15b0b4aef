"""What the activity service answers: results of presses and commands, and the form state."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from bot.domain.models_activities import Activity


class JoinResult(BaseModel):
    """A Sign up press: a place, a waitlist position, a repeat, or not registered
    ("unverified": the batch did not find the card pressed; `Activities.join` looks closer)."""

    kind: Literal[
        "confirmed",
        "waiting",
        "already_confirmed",
        "already_waiting",
        "unregistered",
        "unverified",
    ]
    activity: Activity | None = None
    position: int = 0
    overlaps: int = 0
    post_no: int | None = None  # the post taken (or waited for), for an activity with posts


class LeaveResult(BaseModel):
    """A Cancel press, and who moved up from the waitlist."""

    kind: Literal["left", "not_signed_up"]
    activity: Activity
    promoted: int | None = None


class CheckinResult(BaseModel):
    """A check-in: done, already done, or a live location is needed."""

    kind: Literal["done", "already", "need_location"]
    activity: Activity


class CloseResult(BaseModel):
    """/close: who was present, who did not come, the hours credited."""

    activity: Activity
    present: int
    no_show: int
    credited_quarters: int
    #: the organiser attended too: their entry waits for another approver
    own_pending: bool = False


class Created(BaseModel):
    """A new activity and the number of cascade copies queued."""

    activity: Activity
    copies: int  # cascade copies queued in other chats
    guard_id: int | None = None  # the origin card's outbox stand-in (see `Outbox.guard`)


#: the guided /activity form's steps in order; the optional ones have a Skip button
FormStep = Literal[
    "title", "when", "deadline", "repeat", "hours", "posts", "capacity", "place", "location"
]


class FormState(BaseModel):
    """The guided /activity form, kept in the flows table. The optional answers are kept as
    typed (checked when given) and read again, by the one-line form's parsers, at the end."""

    step: FormStep = "title"
    chat_id: int
    org_id: int
    title: str | None = None
    starts_at: float | None = None
    signup_deadline: float | None = None  # None: sign-up closes at the start
    rule: str | None = None  # a series rule as typed ("每个工作日 至 2027-01-31")
    quarters: int | None = None
    posts: str | None = None  # a posts field as typed ("岗位 引导 20, 检票 10 09:00-12:00")
    capacity: int | None = None  # with posts: their sum
    place: str | None = None
    cascade: bool = False
