"""Figures in chat: /stats, /chart hours|coverage|tower, /export members|activities|campaign,
and the on-demand coverage audit after /org (secretary or staff; the result goes privately)."""

from __future__ import annotations

import asyncio
import logging

from telegram import ReplyParameters, Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain import charts, validate
from bot.domain.access import RANK
from bot.domain.errors import Refusal
from bot.domain.models import Org
from bot.domain.stats import Figures
from bot.domain.tower import OrgView
from bot.gateway.probe import BotProbe
from bot.texts import Raw
from handlers.common import (
    GROUPS,
    actor,
    add_handlers,
    chat_id_of,
    chat_model,
    is_private,
    message_of,
    reply,
    require_group,
    tr,
)
from handlers.dashboard import open_in_private

log = logging.getLogger(__name__)
CHARTS = ("hours", "coverage", "tower")


def _figures_text(context: Context, f: Figures) -> dict[str, object]:
    numbers = f.numbers()
    values: dict[str, object] = {**numbers, "org": f.org.name}
    # no audit has run: coverage is unknown, not 0 %
    values["member_cov"] = (
        tr(context, "stats_pct", pct=numbers["member_pct"])
        if f.members_checked
        else tr(context, "stats_not_checked")
    )
    return values


async def stats(update: Update, context: Context) -> None:
    """/stats: the subtree's figures, rolled up and per direct child (secretary or staff)."""
    require_group(update)
    if context.args:
        await reply(update, context, tr(context, "usage_stats"))
        return
    service = context.services.stats
    org = await service.org_for(actor(update).user_id, chat_id_of(update))
    view = await service.view(org)
    parts = [tr(context, "stats_total", **_figures_text(context, view.total))]
    if view.children:
        parts.append(tr(context, "stats_children_head", n=len(view.children)))
        parts.extend(
            tr(context, "stats_child", **_figures_text(context, kid)) for kid in view.children
        )
    await reply(update, context, Raw("\n".join(parts)), open_in_private(context))


async def chart(update: Update, context: Context) -> None:
    """/chart hours|coverage|tower: a PNG of the subtree, posted in this chat."""
    require_group(update)
    args = context.args or []
    if len(args) != 1 or args[0].lower() not in CHARTS:
        await reply(update, context, tr(context, "usage_chart"))
        return
    kind = args[0].lower()
    service = context.services.stats
    org = await service.org_for(actor(update).user_id, chat_id_of(update))
    today = service.today()
    if kind == "tower":
        rows = await service.tower(org)
        if len(rows) <= 1:
            await reply(update, context, tr(context, "chart_empty_no_children", org=org.name))
            return
        data = charts.tower_data(rows, context.lang, org.name, today)
        png = await asyncio.to_thread(charts.draw_tree, data)
    else:
        view = await service.view(org)
        empty = charts.empty_reason(kind, view)
        if empty:  # an empty chart says nothing: answer in words
            await reply(update, context, tr(context, empty, org=org.name))
            return
        build = charts.hours_data if kind == "hours" else charts.coverage_data
        png = await asyncio.to_thread(charts.draw_bars, build(view, context.lang, today))
    message = message_of(update)
    await context.bot.send_photo(
        chat_id_of(update),
        photo=png,
        caption=tr(context, "chart_caption_" + kind, org=org.name),
        reply_parameters=ReplyParameters(
            message_id=message.message_id, allow_sending_without_reply=True
        ),
    )


async def _export_orgs(update: Update, context: Context) -> list[Org]:
    """In a group: its org (secretary or staff); in private: the person's top orgs."""
    uid = actor(update).user_id
    if not is_private(update):
        return [await context.services.stats.org_for(uid, chat_id_of(update))]
    tops = [
        org
        for org, role in await context.services.access.top_orgs(uid)
        if role in ("secretary", "staff")
    ]
    if not tops:
        raise Refusal("err_need_secretary", org="—")
    return tops


async def _export_subtree(update: Update, context: Context, args: list[str], kind: str) -> None:
    """One workbook of `kind` per org the person may export, sent to them privately."""
    if args:
        await reply(update, context, tr(context, "usage_export_mine"))
        return
    service = context.services.stats
    build = {"members": service.members_workbook, "activities": service.activities_workbook}[kind]
    for org in await _export_orgs(update, context):
        data = await build(org, context.lang)
        await context.services.outbox.send_workbook(
            actor(update).user_id,
            data,
            filename=f"{kind}-{org.code}-{service.today().isoformat()}.xlsx",
            caption=tr(context, f"export_caption_{kind}", org=org.name),
        )
    await reply(update, context, tr(context, "export_sent_privately"))


async def export_members(update: Update, context: Context, args: list[str]) -> None:
    """/export members: registered members of the subtree (real names; privately)."""
    await _export_subtree(update, context, args, "members")


async def export_activities(update: Update, context: Context, args: list[str]) -> None:
    """/export activities: every activity of the subtree with sign-ups and attendance."""
    await _export_subtree(update, context, args, "activities")


async def export_campaign(update: Update, context: Context, args: list[str]) -> None:
    """/export campaign <id>: per owing org, on time / late / missing, and the reports."""
    if len(args) != 1:
        await reply(update, context, tr(context, "usage_export_mine"))
        return
    campaign_id = validate.ascii_int(args[0], key="err_camp_bad_id")
    service = context.services.stats
    data, title = await service.campaign_workbook(actor(update).user_id, campaign_id, context.lang)
    await context.services.outbox.send_workbook(
        actor(update).user_id,
        data,
        filename=f"campaign-{campaign_id}-{service.today().isoformat()}.xlsx",
        caption=tr(context, "export_caption_campaign", title=title),
    )
    await reply(update, context, tr(context, "export_sent_privately"))


async def audit_hook(update: Update, context: Context, view: OrgView) -> None:
    """After /org: a secretary or staff gets this chat's coverage audit privately."""
    services = context.services
    uid = actor(update).user_id
    if chat_model(update).type not in GROUPS:
        return
    if RANK[await services.access.role_at(uid, view.org)] < RANK["secretary"]:
        return
    chat_id = chat_id_of(update)
    probe = BotProbe(context.bot)

    async def run() -> None:
        try:
            await services.audit.on_demand(uid, chat_id, probe)
        except Exception:
            log.exception("on-demand coverage audit of %s failed", chat_id)

    task = context.application.create_task(run(), name=f"audit:{chat_id}")
    services.extra.setdefault("audit_tasks", set()).add(task)
    task.add_done_callback(services.extra["audit_tasks"].discard)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_export("members", export_members)
    hooks.add_export("activities", export_activities)
    hooks.add_export("campaign", export_campaign)
    hooks.add_org_hook(audit_hook)
    hooks.add_help_section("help_stats", "secretary")
    add_handlers(app, commands={"stats": stats, "chart": chart})
