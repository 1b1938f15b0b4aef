"""Group-chat glue for the cadre roster: /cadres (staff) and its add / appoint / mode / term /
vacate / remove words, the training part of /me, `/export training` and the /forgetme hook.

The roster is answered in the group it was asked in, so it names holders by their Telegram
first name and @username only; real names go out solely in `/export training`, which is sent
to the asker's private chat.
"""

from __future__ import annotations

import html
from datetime import datetime

from telegram import Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain import cadres_input as parse
from bot.domain.cadre_sheet import parse_year
from bot.domain.cadres import CadreRoster, Changed
from bot.domain.errors import Refusal
from bot.domain.models import Org, User
from bot.domain.models_cadres import Holding, RosterLine, Training
from bot.domain.stats import pct
from bot.domain.xlsx import day_words
from bot.texts import Raw, t
from handlers.common import (
    actor,
    add_handlers,
    chat_id_of,
    display_name,
    is_private,
    message_of,
    reply,
    require_group,
    tr,
)

#: a roster longer than this is cut (one message; the export has everything)
MAX_ROSTER = 3500


def _hours(items: list[Training]) -> float:
    return sum(i.quarters for i in items) / 4


def _holder(context: Context, line: RosterLine, trainings: dict[int, list[Training]]) -> str:
    if line.user_id is None:
        return tr(context, "cadres_vacant")
    name = display_name(line.first_name, line.user_id)
    if line.username:
        name += " @" + html.escape(line.username)
    items = trainings.get(line.user_id, [])
    term = context.services.cadres.term_text(context.lang, line) if line.post_id else ""
    return tr(
        context,
        "cadres_holder",
        name=Raw(name),
        term=Raw(term) if term else "—",
        courses=len(items),
        hours=_hours(items),
    )


def roster_text(context: Context, roster: CadreRoster) -> str:
    """The roster as one group message: Telegram names only, never real names."""
    f = roster.figures
    head = tr(
        context,
        "cadres_head",
        org=roster.org.name,
        cadre_pct=pct(f["posts_filled"], f["posts"]),
        active_pct=pct(f["holders_active"], f["holders"]),
        **f,
    )
    blocks: dict[int, list[str]] = {}
    for line in roster.lines:
        block = blocks.setdefault(line.org_id, [tr(context, "cadres_org", org=line.org_name)])
        post = tr(context, "cadre_pos_" + line.position)
        holder = Raw(_holder(context, line, roster.trainings))
        key = "cadres_line" if line.post_id else "cadres_line_implicit"
        block.append(tr(context, key, id=line.post_id or 0, post=post, holder=holder))
    parts = [head]
    size, cut = len(head), 0
    for block in blocks.values():
        text = "\n".join(block)
        if size + len(text) > MAX_ROSTER:
            cut += 1
            continue
        parts.append(text)
        size += len(text) + 1
    if cut:
        parts.append(tr(context, "cadres_more", n=cut))
    parts.append(tr(context, "cadres_note"))
    return "\n".join(parts)


def _term(context: Context, holding: Holding | None) -> Raw:
    if holding is None:
        return Raw("—")
    return Raw(context.services.cadres.term_text(context.lang, holding))


async def _target(update: Update, context: Context, username: str | None) -> tuple[int, str]:
    """Who is appointed: the @username given, else the author of the replied-to message."""
    if username is not None:
        user = await context.services.tower.find_user(username)
        return user.id, user.first_name
    replied = message_of(update).reply_to_message
    person = replied.from_user if replied else None
    if person is None or person.is_bot:
        raise Refusal("err_cadre_who")
    return person.id, person.first_name


async def _name_of(context: Context, user_id: int) -> Raw:
    found = await context.services.access.identity(user_id)
    user: User | None = found.user if found else None
    return Raw(display_name(user.first_name if user else None, user_id))


async def _changed(context: Context, update: Update, key: str, done: Changed) -> None:
    await reply(
        update,
        context,
        tr(
            context,
            key,
            org=done.org.name,
            post=tr(context, "cadre_pos_" + done.post.position),
            id=done.post.id,
            term=_term(context, done.after),
        ),
    )


async def cadres(update: Update, context: Context) -> None:
    """/cadres [add|appoint|mode|term|vacate|remove ...]: the cadre roster and its changes."""
    require_group(update)
    args = context.args or []
    service = context.services.cadres
    uid, chat_id = actor(update).user_id, chat_id_of(update)
    if not args:
        roster = await service.roster(uid, chat_id)
        await reply(update, context, roster_text(context, roster))
        return
    word, rest = args[0].lower(), args[1:]
    if word == "add" and 1 <= len(rest) <= 2:
        position = parse.parse_position(rest[0])
        count = parse.parse_count(rest[1] if len(rest) == 2 else None)
        ids = await service.add_posts(uid, chat_id, position, count)
        org = await service.staff_org(uid, chat_id)
        text = tr(
            context,
            "cadres_added",
            org=org.name,
            n=len(ids),
            post=tr(context, "cadre_pos_" + position),
            ids=" ".join(f"#{i}" for i in ids),
        )
        await reply(update, context, text)
    elif word == "appoint" and rest:
        ref = parse.parse_post(rest[0])
        what = parse.parse_appointment(rest[1:])
        await service.staff_org(uid, chat_id)  # a member is refused before anything else
        target_id, first_name = await _target(update, context, what.username)
        done = await service.appoint(uid, chat_id, ref, target_id, what)
        user = Raw(display_name(first_name, target_id))
        values = {
            "org": done.org.name,
            "post": tr(context, "cadre_pos_" + done.post.position),
            "id": done.post.id,
            "term": _term(context, done.after),
            "user": user,
        }
        if done.before is not None:
            before = await _name_of(context, done.before.user_id)
            await reply(update, context, tr(context, "cadres_handed_over", before=before, **values))
        else:
            await reply(update, context, tr(context, "cadres_appointed", **values))
    elif word == "mode" and len(rest) == 2:
        done = await service.set_mode(
            uid, chat_id, parse.parse_post(rest[0]), parse.parse_mode(rest[1])
        )
        await _changed(context, update, "cadres_mode_set", done)
    elif word == "term" and len(rest) == 3:
        term = parse.parse_term(rest[1], rest[2])
        done = await service.set_term(uid, chat_id, parse.parse_post(rest[0]), term)
        await _changed(context, update, "cadres_mode_set", done)
    elif word == "vacate" and len(rest) == 1:
        done = await service.vacate(uid, chat_id, parse.parse_post(rest[0]))
        await _changed(context, update, "cadres_vacated", done)
    elif word == "remove" and len(rest) == 1:
        done = await service.remove_post(uid, chat_id, parse.parse_post(rest[0]))
        await _changed(context, update, "cadres_removed", done)
    else:
        await reply(update, context, tr(context, "usage_cadres"))


async def me_section(update: Update, context: Context, profile: object) -> str | None:
    """/me (private): the person's posts and training record, if they have either."""
    posts, trainings = await context.services.cadres.record(actor(update).user_id)
    if not posts and not trainings:
        return None
    lang, tz = context.lang, context.services.settings.tz
    parts: list[str] = []
    if posts:
        lines = "\n".join(
            t(
                lang,
                "me_cadre_post",
                org=p.org_name,
                post=t(lang, "cadre_pos_" + p.position),
                id=p.post_id or 0,
                term=Raw(context.services.cadres.term_text(lang, p)),
            )
            for p in posts
        )
        parts.append(t(lang, "me_cadres", posts=Raw(lines)))
    items = "\n".join(
        t(
            lang,
            "me_training_item",
            date=day_words(lang, datetime.fromtimestamp(i.starts_at, tz).date()),
            title=i.title,
            kind=t(lang, "act_kind_" + i.kind),
            hours=i.quarters / 4,
        )
        for i in trainings
    )
    parts.append(
        t(lang, "me_training", courses=len(trainings), hours=_hours(trainings), items=Raw(items))
    )
    return "\n".join(parts)


async def export_training(update: Update, context: Context, args: list[str]) -> None:
    """/export training: each post-holder of the subtree with their trainings (privately)."""
    if args:
        await reply(update, context, tr(context, "usage_export_mine"))
        return
    uid = actor(update).user_id
    service = context.services.cadres
    today = context.services.stats.today().isoformat()
    for org in await _staff_orgs(update, context):
        data = await service.training_workbook(org, context.lang)
        await context.services.outbox.send_workbook(
            uid,
            data,
            filename=f"training-{org.code}-{today}.xlsx",
            caption=tr(context, "export_caption_training", org=org.name),
        )
    await reply(update, context, tr(context, "export_sent_privately"))


async def _staff_orgs(update: Update, context: Context) -> list[Org]:
    """The orgs an export of the cadre side covers: this chat's org, or in private every org
    the person is staff of (refused when none)."""
    uid = actor(update).user_id
    if is_private(update):
        orgs = [org for org, role in await context.services.access.top_orgs(uid) if role == "staff"]
        if not orgs:
            raise Refusal("err_need_staff", org="—")
        return orgs
    return [await context.services.cadres.staff_org(uid, chat_id_of(update))]


async def export_cadres(update: Update, context: Context, args: list[str]) -> None:
    """/export cadres [year]: the annual cadre sheet (评先评优参考), privately."""
    sheet = context.services.cadres.sheet
    year = parse_year(args, sheet.this_year())
    uid = actor(update).user_id
    for org in await _staff_orgs(update, context):
        data = await sheet.workbook(org, year, context.lang)
        await context.services.outbox.send_workbook(
            uid,
            data,
            filename=f"cadres-{org.code}-{year}.xlsx",
            caption=tr(context, "export_caption_cadres", org=org.name, year=year),
        )
    await reply(update, context, tr(context, "export_sent_privately"))


async def forget_hook(context: Context, user_id: int) -> None:
    """/forgetme: the person's posts become vacant; their holdings go."""
    await context.services.cadres.forget(user_id)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_me_section(me_section)
    hooks.add_forget_hook(forget_hook)
    hooks.add_export("training", export_training)
    hooks.add_export("cadres", export_cadres)
    hooks.add_help_section("help_cadres", "staff")
    add_handlers(app, commands={"cadres": cadres})
