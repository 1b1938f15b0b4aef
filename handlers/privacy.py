"""Privacy glue: /mydata (private) and /auditlog (staff). /audit is the coverage audit's word."""

from __future__ import annotations

from telegram import Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.clock import fmt_local
from bot.texts import Raw
from handlers.common import actor, add_handlers, chat_id_of, is_private, reply, require_private, tr

AUDIT_DEFAULT, AUDIT_MAX = 20, 100


async def my_data(update: Update, context: Context) -> None:
    """Send the person everything stored about them, as a JSON document, privately."""
    require_private(update)
    services = context.services
    uid = actor(update).user_id
    data = await services.privacy.mydata(uid)
    await services.outbox.send_document(
        uid,
        data,
        filename="mydata.json",
        mime_type="application/json",
        caption=tr(context, "mydata_caption"),
        ref="mydata",
    )
    await reply(update, context, tr(context, "mydata_sent"))


async def audit_log(update: Update, context: Context) -> None:
    """/auditlog [n]: the last n exports and role changes of the staff member's subtree."""
    args = context.args or []
    if len(args) > 1 or (args and not (args[0].isdigit() and 1 <= int(args[0]) <= AUDIT_MAX)):
        await reply(update, context, tr(context, "usage_auditlog"))
        return
    limit = int(args[0]) if args else AUDIT_DEFAULT
    services = context.services
    chat_id = None if is_private(update) else chat_id_of(update)
    scope, rows = await services.privacy.audit_entries(actor(update).user_id, chat_id, limit)
    lines = [tr(context, "auditlog_head", orgs="、".join(o.name for o in scope), n=len(rows))]
    for row in rows:
        who = str(row["actor_id"]) if row["actor_id"] is not None else tr(context, "auditlog_cli")
        detail = row["detail"]
        if row["target_id"] is not None and row["target_id"] != row["actor_id"]:
            detail = f"{detail} {tr(context, 'auditlog_target', who=row['target_id'])}"
        lines.append(
            tr(
                context,
                "auditlog_line",
                when=fmt_local(row["at"], services.settings.tz),
                who=who,
                action=tr(context, f"auditlog_{row['action']}"),
                detail=detail,
                org=row["org"],
            )
        )
    if not rows:
        lines.append(tr(context, "auditlog_empty"))
    await reply(update, context, Raw("\n".join(lines)))


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_help_section("help_privacy", "member")
    hooks.add_help_section("help_auditlog", "staff")
    add_handlers(app, commands={"mydata": my_data, ("audit", "auditlog"): audit_log})
