"""Handler registration, in order. PTB runs the first matching handler of each group."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from handlers import activities, announcements, campaigns, common, hours, people, stats, tower


def register(app: Application) -> None:
    # group -1: every update first records its user, settles the reply language and passes
    # the flood guard (which may stop the update here)
    app.add_handler(TypeHandler(Update, common.remember), group=-1)
    # group 0: commands and buttons, one module per feature; each filters its own callback data
    tower.register_handlers(app)
    people.register_handlers(app)
    activities.register_handlers(app)
    hours.register_handlers(app)
    campaigns.register_handlers(app)
    announcements.register_handlers(app)
    stats.register_handlers(app)
    # last: private free text, contacts, documents and locations go to the person's guided flow
    people.register_fallback(app)
    app.add_error_handler(common.on_error)
