"""Activities: sign-up cards across the tower, capacity and waitlist, reminders, check-in,
attendance and the hours it earns.

One concern per module: `parsing` (what organisers type), `service` (`Activities`, with its
mixins `form`, `checkin` and `ending` on their shared `base`), `joins` (presses decided in batches), `cards` (card
text and markup), `copies` (where the card copies are and which are stale), `callbacks` (the
buttons' callback data), `results`, `editing` (the organiser's edit), `calendar` (the .ics file).
"""

from bot.domain.activities import callbacks
from bot.domain.activities.base import KIND
from bot.domain.activities.checkin import CHECKIN_FLOW
from bot.domain.activities.copies import CardCopies
from bot.domain.activities.editing import EDIT_WORDS, ActivityEdit, EditResult, parse_edit
from bot.domain.activities.form import FORM
from bot.domain.activities.joins import JoinBatcher
from bot.domain.activities.parsing import (
    ActivityInput,
    distance_m,
    example_values,
    fmt_hours,
    fmt_span,
    parse_activity,
    parse_id,
    step_name,
)
from bot.domain.activities.results import (
    CheckinResult,
    CloseResult,
    Created,
    FormState,
    JoinResult,
    LeaveResult,
)
from bot.domain.activities.service import Activities

__all__ = [
    "CHECKIN_FLOW",
    "EDIT_WORDS",
    "FORM",
    "KIND",
    "Activities",
    "ActivityEdit",
    "ActivityInput",
    "CardCopies",
    "CheckinResult",
    "CloseResult",
    "Created",
    "EditResult",
    "FormState",
    "JoinBatcher",
    "JoinResult",
    "LeaveResult",
    "callbacks",
    "distance_m",
    "example_values",
    "fmt_hours",
    "fmt_span",
    "parse_activity",
    "parse_edit",
    "parse_id",
    "step_name",
]
