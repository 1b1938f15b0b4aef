"""Handler registration, in order. PTB runs the first matching handler of each group."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application, TypeHandler

from handlers import common, people, tower


def register(app: Application) -> None:
    # group -1: every update first records its user and settles the reply language
    app.add_handler(TypeHandler(Update, common.remember), group=-1)
    # group 0: commands and buttons, one module per feature
    tower.register_handlers(app)
    people.register_handlers(app)
    # features register here (each before the private-input fallback)
    from handlers import activities

    activities.register_handlers(app)
    from handlers import hours

    hours.register_handlers(app)
    from handlers import campaigns

    campaigns.register_handlers(app)
    from handlers import announcements, stats

    announcements.register_handlers(app)
    stats.register_handlers(app)
    # last: private free text, contacts, documents go to the person's guided flow
    people.register_fallback(app)
    app.add_error_handler(common.on_error)
