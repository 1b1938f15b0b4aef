"""Report-back campaigns: /deadline (group), /submit and the `sub_` deep link (private)."""

from __future__ import annotations

import re

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.ext import Application

from bot.context import Context, Hooks
from bot.domain.campaigns import (
    SUBMIT_DATA,
    SUBMIT_FLOW,
    SUBMIT_LINK,
    Board,
    Option,
    Received,
    fmt_size,
    parse_id,
    parse_submit_data,
    submit_data,
)
from bot.domain.errors import Refusal
from bot.domain.review_calc import material_data
from bot.domain.validate import excerpt
from bot.domain.when import Choose, Reading, choice_pattern
from bot.texts import Raw
from handlers import when as when_handlers
from handlers.common import (
    actor,
    add_handlers,
    chat_id_of,
    is_private,
    keyboard,
    message_of,
    query_of,
    reply,
    require_group,
    require_own_private,
    tr,
)

_NEW = re.compile(r"^\S+\s+new(?:\s+(.*))?$", re.DOTALL | re.IGNORECASE)
PICK_ROWS = 10
#: 查看材料 buttons under a board (one per org that submitted something)
MATERIAL_BUTTONS = 30
#: the kind of the due-time choice buttons of /deadline new
WHEN_KIND = "dl"


# --- /deadline (group) ---------------------------------------------------------------------


async def deadline(update: Update, context: Context) -> None:
    """/deadline new | status | list | cancel."""
    if is_private(update):
        raise Refusal("err_deadline_group")
    require_group(update)
    args = context.args or []
    verb = args[0].lower() if args else ""
    if verb == "new":
        await deadline_new(update, context)
    elif verb == "status" and len(args) <= 2:
        await deadline_status(update, context, parse_id(args[1]) if len(args) == 2 else None)
    elif verb == "list" and len(args) == 1:
        await deadline_list(update, context)
    elif verb == "cancel" and len(args) == 2:
        await deadline_cancel(update, context, parse_id(args[1]))
    else:
        await reply(update, context, tr(context, "usage_deadline"))


async def deadline_new(
    update: Update, context: Context, command: str | None = None, chosen: Reading | None = None
) -> None:
    """Create a campaign owed by the orgs below this chat's org; an uncertain due time asks."""
    services = context.services
    match = _NEW.match((command or message_of(update).text or "").strip())
    rest = (match.group(1) or "") if match else ""
    message = update.effective_message
    replied = message.reply_to_message if message is not None else None
    replied_to = replied.from_user.id if replied and replied.from_user else None
    if replied_to is not None and replied_to == context.bot.id:
        replied_to = None
    try:
        created = await services.campaigns.create(
            actor(update).user_id, chat_id_of(update), rest, chosen, replied_to
        )
    except Choose as question:
        await when_handlers.ask(update, context, WHEN_KIND, question)
        return
    c = created.campaign
    fmt = services.campaigns.fmt
    reminders = (
        "、".join(fmt(at, context.lang) for at in created.reminders)
        if context.lang == "zh"
        else ", ".join(fmt(at, context.lang) for at in created.reminders)
    )
    text = tr(
        context,
        "camp_created",
        id=c.id,
        title=c.title,
        due=fmt(c.due_at, context.lang),
        tz=services.settings.timezone,
        n=created.owing,
        scope=Raw(tr(context, "camp_scope_all") if c.scope == "all" else ""),
        reminders=reminders or tr(context, "camp_no_reminders"),
    )
    extras = []
    if c.parts == 2:
        extras.append(tr(context, "camp_created_two_parts"))
    if created.panel:
        extras.append(tr(context, "camp_created_panel", n=created.panel))
    if extras:
        text = Raw(text + "\n" + "\n".join(extras))
    if created.no_secretary:
        sep = "、" if context.lang == "zh" else ", "
        text = Raw(
            text
            + "\n"
            + tr(context, "camp_created_no_secretary", orgs=sep.join(created.no_secretary))
        )
    await reply(update, context, text)


async def deadline_when_button(update: Update, context: Context) -> None:
    """A reading of the due time pressed under the question /deadline new asked."""
    reading, command = await when_handlers.pressed(update, context)
    await deadline_new(update, context, command, reading)


async def deadline_status(update: Update, context: Context, campaign_id: int | None) -> None:
    """The board: per org on time, late or missing."""
    campaigns = context.services.campaigns
    board = await campaigns.board(actor(update).user_id, chat_id_of(update), campaign_id)
    readable = [r for r in board.rows if r.readable][:MATERIAL_BUTTONS]
    buttons = [
        [
            (
                tr(context, "camp_btn_material", org=r.name[:20]),
                material_data(board.campaign.id, r.org_id),
            )
        ]
        for r in readable
    ]
    markup = keyboard(buttons) if buttons else None
    await reply(update, context, campaigns.board_text(board, context.lang), markup)


async def deadline_list(update: Update, context: Context) -> None:
    """Campaigns visible from this chat, newest first."""
    campaigns = context.services.campaigns
    boards = await campaigns.recent(actor(update).user_id, chat_id_of(update))
    if not boards:
        await reply(update, context, tr(context, "camp_list_empty"))
        return
    lines = [
        tr(context, "camp_list_head", org=(await campaigns.org_of_chat(chat_id_of(update))).name)
    ]
    lines += [_list_line(context, b) for b in boards]
    await reply(update, context, Raw("\n".join(lines)))


def _list_line(context: Context, board: Board) -> str:
    c = board.campaign
    campaigns = context.services.campaigns
    state = ""
    if c.status == "cancelled":
        state = tr(context, "camp_list_cancelled")
    elif campaigns.clock.time() >= c.due_at:
        state = tr(context, "camp_list_overdue")
    return tr(
        context,
        "camp_list_line",
        **campaigns.about(c, context.lang),
        done=len(board.rows) - board.count("missing"),
        total=len(board.rows),
        state=Raw(state),
    )


async def deadline_cancel(update: Update, context: Context, campaign_id: int) -> None:
    """Cancel a campaign and its pending reminders (staff)."""
    campaign, dropped = await context.services.campaigns.cancel(
        actor(update).user_id, chat_id_of(update), campaign_id
    )
    await reply(
        update,
        context,
        tr(context, "camp_cancelled", id=campaign.id, title=campaign.title, n=dropped),
    )


# --- /submit (private) ----------------------------------------------------------------------


async def submit(update: Update, context: Context) -> None:
    """/submit [id]: choose the campaign, then the next text or document is the report."""
    if not is_private(update):
        raise Refusal("err_submit_private")
    args = context.args or []
    if len(args) > 1:
        raise Refusal("err_camp_bad_id", got=excerpt(" ".join(args), 20))
    campaign_id = parse_id(args[0]) if args else None
    await offer(update, context, campaign_id)


async def submit_link(update: Update, context: Context, rest: str) -> None:
    """`sub_<id>` deep link from a reminder."""
    await offer(update, context, parse_id(rest))


async def offer(update: Update, context: Context, campaign_id: int | None) -> None:
    """One choice starts the flow at once; several are offered as buttons."""
    campaigns = context.services.campaigns
    uid = actor(update).user_id
    options = await campaigns.options(uid, campaign_id)
    replied = update.effective_message.reply_to_message if update.effective_message else None
    if len(options) == 1 and replied is not None and _report_in(replied):
        received = await _store(context, uid, replied, (options[0].campaign.id, options[0].org.id))
        await reply(update, context, received_text(context, received))
        return
    if len(options) == 1:
        option = await campaigns.begin(uid, options[0].campaign.id, options[0].org.id)
        await reply(update, context, ask_text(context, option), part_buttons(context, option))
        return
    rows = []
    for o in options[:PICK_ROWS]:
        label = tr(
            context,
            "camp_pick_button",
            id=o.campaign.id,
            title=o.campaign.title[:24],
            org=o.org.name[:20],
        )
        if o.submitted:
            label = Raw(label + tr(context, "camp_pick_done"))
        rows.append([(label, submit_data(o.campaign.id, o.org.id))])
    await reply(update, context, tr(context, "camp_pick"), keyboard(rows))


async def submit_button(update: Update, context: Context) -> None:
    """A press on one of the choices offered by /submit."""
    query = query_of(update)
    require_own_private(update)
    campaign_id, org_id, part = parse_submit_data(query.data)
    option = await context.services.campaigns.begin(
        actor(update).user_id, campaign_id, org_id, part
    )
    await query.answer()
    await query.edit_message_reply_markup(None)
    await reply(update, context, ask_text(context, option), part_buttons(context, option))


def part_buttons(context: Context, option: Option) -> InlineKeyboardMarkup | None:
    """A two-part report: switch to the other part (the flow asks for the first missing)."""
    if option.part is None:
        return None
    other = "plan" if option.part == "summary" else "summary"
    label = tr(context, f"camp_btn_part_{other}")
    return keyboard([[(label, submit_data(option.campaign.id, option.org.id, other))]])


def ask_text(context: Context, option: Option) -> str:
    campaigns = context.services.campaigns
    c = option.campaign
    if option.part is not None:
        done = [tr(context, f"camp_part_{p}") for p in option.parts_in]
        return tr(
            context,
            "camp_ask_part",
            **campaigns.about(c, context.lang),
            org=option.org.name,
            part=tr(context, f"camp_part_{option.part}"),
            done=Raw("、".join(done) if done else tr(context, "camp_parts_none")),
        )
    text = tr(
        context,
        "camp_ask_report",
        **campaigns.about(c, context.lang),
        org=option.org.name,
    )
    if option.submitted or campaigns.clock.time() > c.due_at:
        note = tr(context, "camp_late_note") if campaigns.clock.time() > c.due_at else ""
        if option.submitted:
            text = Raw(
                text
                + "\n"
                + tr(
                    context,
                    "camp_ask_report_again",
                    org=option.org.name,
                    title=c.title,
                    late_note=Raw(note),
                )
            )
        else:
            text = Raw(text + note)
    return text


def _report_in(message: Message) -> bool:
    return bool(message.text or message.document)


async def _store(
    context: Context, uid: int, message: Message, target: tuple[int, int] | None = None
) -> Received:
    campaigns = context.services.campaigns
    if message.document is not None:
        doc = message.document
        return await campaigns.submit(
            uid,
            text=message.caption,
            file_id=doc.file_id,
            file_name=doc.file_name,
            file_size=doc.file_size,
            target=target,
        )
    if message.text is None:
        raise Refusal("err_sub_kind")
    return await campaigns.submit(uid, text=message.text, target=target)


async def submit_input(update: Update, context: Context) -> None:
    """The next text or document after /submit is the report."""
    received = await _store(context, actor(update).user_id, message_of(update))
    await reply(update, context, received_text(context, received))


def received_text(context: Context, received: Received) -> str:
    campaigns = context.services.campaigns
    s = received.submission
    if s.file_id:
        what = tr(
            context, "camp_received_file", name=s.file_name or "?", size=fmt_size(s.file_size)
        )
    else:
        what = tr(context, "camp_received_text", n=len(s.text or ""))
    notes = [tr(context, "camp_note_late" if s.late else "camp_note_on_time")]
    if received.replaced:
        notes.append(tr(context, "camp_note_replaced"))
    c = received.campaign
    if received.part is not None:
        text = tr(
            context,
            "camp_received_part",
            id=c.id,
            title=c.title,
            org=received.org.name,
            part=tr(context, f"camp_part_{received.part}"),
            what=what,
            at=campaigns.fmt(s.submitted_at, context.lang),
            note=Raw(" ".join(notes)),
        )
        if received.missing is not None:
            more = tr(context, "camp_next_part", part=tr(context, f"camp_part_{received.missing}"))
        else:
            more = tr(context, "camp_parts_complete")
        return Raw(text + "\n" + more)
    return tr(
        context,
        "camp_received",
        id=c.id,
        title=c.title,
        org=received.org.name,
        what=what,
        at=campaigns.fmt(s.submitted_at, context.lang),
        note=Raw(" ".join(notes)),
    )


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(SUBMIT_FLOW, submit_input)
    hooks.add_deep_link(SUBMIT_LINK, submit_link)
    hooks.add_help_section("help_campaigns_secretary", "secretary")
    hooks.add_help_section("help_campaigns_staff", "staff")
    add_handlers(
        app,
        commands={"deadline": deadline, "submit": submit},
        buttons={SUBMIT_DATA: submit_button, choice_pattern(WHEN_KIND): deadline_when_button},
    )
