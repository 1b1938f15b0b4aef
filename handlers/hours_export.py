"""Volunteer hours exports: /export and its hours/myhours kinds, plus the chat scope they share."""

from __future__ import annotations

from telegram import Update

from bot.context import Context
from bot.domain import export_hours as xl
from bot.domain import validate
from bot.domain.errors import Refusal
from bot.texts import Raw
from handlers.common import actor, chat_id_of, is_private, reply, tr


async def scope_org_id(update: Update, context: Context) -> int:
    """0 in a private chat (the approver's own top orgs), else the group's bound org."""
    if is_private(update):
        return 0
    org = await context.services.tower.org_of_chat(chat_id_of(update))
    return org.id


async def export(update: Update, context: Context) -> None:
    """/export <kind> ...: an .xlsx sent to the asker's private chat."""
    args = context.args or []
    handler = context.hooks.exports.get(args[0].lower()) if args else None
    if handler is None:
        await reply(update, context, tr(context, "usage_export"))
        return
    profile = await context.services.people.profile(actor(update).user_id)
    if not profile.user.started:
        raise Refusal("err_hours_start_private")
    await handler(update, context, args[1:])
    # every export of personal data is logged (who, when, what); a refused one raised above
    await context.services.privacy.log_export(
        actor(update).user_id, chat_id_of(update), " ".join(args)[:200]
    )


async def export_hours_handler(update: Update, context: Context, args: list[str]) -> None:
    """/export hours [year]: the subtree's entries, per-person and per-org totals."""
    year = None
    if args:
        if len(args) > 1:
            raise Refusal("err_export_year")
        year = validate.ascii_int(args[0], key="err_export_year", max_digits=4)
        if not 2000 <= year <= 2100:
            raise Refusal("err_export_year")
    hours = context.services.hours
    uid = actor(update).user_id
    scope = await hours.export_scope(uid, await scope_org_id(update, context) or None)
    for org in scope:
        data = await xl.subtree_workbook(hours, org, year=year, lang=context.lang)
        await hours.outbox.send_workbook(
            uid,
            data,
            filename=xl.export_filename("hours", org.code, hours.today(), year),
            caption=tr(
                context,
                "export_caption_hours",
                org=org.name,
                year=Raw(
                    tr(context, "export_year", year=year)
                    if year
                    else tr(context, "export_year_all")
                ),
            ),
        )
    await reply(update, context, tr(context, "export_on_its_way"))


async def export_myhours(update: Update, context: Context, args: list[str]) -> None:
    """/export myhours: the person's own service record, laid out for certification."""
    hours = context.services.hours
    uid = actor(update).user_id
    person = await context.services.people.require_person(uid)
    data = await xl.personal_record(hours, uid, lang=context.lang)
    await hours.outbox.send_workbook(
        uid,
        data,
        filename=f"service-record-{uid}-{hours.today().isoformat()}.xlsx",
        caption=tr(context, "export_caption_myhours", name=person.real_name),
    )
    await reply(update, context, tr(context, "export_on_its_way"))
