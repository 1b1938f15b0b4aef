"""Handler registration, in order. PTB runs the first matching handler of each group."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, TypeHandler

from bot.context import Hooks
from handlers import (
    activities,
    announcements,
    attendance,
    cadres,
    campaigns,
    common,
    dashboard,
    guide,
    hours,
    minors,
    people,
    privacy,
    requests,
    review,
    stats,
    tower,
    welcome,
)


def register(app: Application, hooks: Hooks) -> None:
    """Add every handler to `app`; features register their hooks with each other in `hooks`."""
    # group -2: every update first records its user, settles the reply language and passes
    # the flood guard (which may stop the update here)
    app.add_handler(TypeHandler(Update, common.remember), group=-2)
    # group -1: a button press must be one of the buttons of the bot's message it came from;
    # a forged or stale one is refused here (each feature then checks chat, person and step)
    app.add_handler(CallbackQueryHandler(common.check_button), group=-1)
    # group 0: commands and buttons, one module per feature; each filters its own callback data
    # (the order of registration is also the order of /me sections and /help paragraphs)
    tower.register_handlers(app, hooks)
    people.register_handlers(app, hooks)
    minors.register_handlers(app, hooks)  # guard_ deep links, /consent, the guardian's button
    activities.register_handlers(app, hooks)
    attendance.register_handlers(app, hooks)  # /attendance: the organiser marks the roster
    hours.register_handlers(app, hooks)
    campaigns.register_handlers(app, hooks)
    review.register_handlers(app, hooks)  # 述职评议, 查看材料, /export review
    announcements.register_handlers(app, hooks)
    requests.register_handlers(app, hooks)  # /request, /requests, the decision buttons
    stats.register_handlers(app, hooks)
    dashboard.register_handlers(app, hooks)  # /dashboard: the Mini App's button
    cadres.register_handlers(app, hooks)  # /cadres, the training record in /me, its export
    privacy.register_handlers(app, hooks)  # /mydata, /auditlog
    welcome.register_handlers(app, hooks)  # newcomers of a bound group
    guide.register_handlers(app, hooks)  # "what I can do" buttons, `cmd_` deep links
    # a button no feature claims still gets an answer (a refusal)
    app.add_handler(CallbackQueryHandler(common.unknown_button))
    # last: private free text, contacts, documents and locations go to the person's guided flow
    # (or, outside any flow, to guide's idle answer); then stray media and unknown commands
    people.register_fallback(app)
    guide.register_last(app)
    app.add_error_handler(common.on_error)
