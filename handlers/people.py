"""Private-chat glue: /start, /register (guided), /cancel, /me, /forgetme, /lang, /help."""

from __future__ import annotations

from telegram import (
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.ext import Application, MessageHandler, filters

from bot.context import Context, Hooks
from bot.domain.errors import Refusal
from bot.domain.outbox import GUARD_GRACE
from bot.domain.people import (
    FORGET_DATA,
    REG_DATA,
    REGISTER,
    Registration,
    forget_data,
    parse_forget_data,
    parse_reg_data,
    reg_data,
)
from bot.domain.tower import JOIN_LINK, parse_join_payload
from bot.texts import Raw
from handlers.common import (
    actor,
    add_handlers,
    deep_link,
    is_private,
    keyboard,
    message_of,
    query_of,
    reply,
    require_own_private,
    require_private,
    tr,
    user_of,
)
from handlers.minors import ask_guardian

PICKER_ROWS = 12


async def start(update: Update, context: Context) -> None:
    """Welcome, or open the flow named by a deep-link payload."""
    require_private(update)
    payload = context.args[0] if context.args else ""
    if payload:
        prefix, _, rest = payload.partition("_")
        handler = context.hooks.deep_links.get(prefix)
        if handler is None or not rest:
            await reply(update, context, tr(context, "start_bad_payload"))
            return
        await handler(update, context, rest)
        return
    person = await context.services.people.person(actor(update).user_id)
    key = "start_welcome_registered" if person else "start_welcome"
    await reply(update, context, tr(context, key, name=user_of(update).first_name))


async def join_link(update: Update, context: Context, rest: str) -> None:
    """`join_<orgcode>`: register straight into that org."""
    code = parse_join_payload(rest)
    state = await context.services.people.begin(actor(update).user_id, org_code=code)
    await ask_step(update, context, state)


async def register(update: Update, context: Context) -> None:
    """Start (or restart) the guided registration."""
    require_private(update)
    state = await context.services.people.begin(actor(update).user_id)
    await ask_step(update, context, state)


async def ask_step(update: Update, context: Context, state: Registration) -> None:
    """Send the prompt for the registration's current step."""
    people = context.services.people
    uid = actor(update).user_id
    if state.step == "age":
        await reply(
            update,
            context,
            tr(context, "reg_ask_age"),
            keyboard(
                [
                    [
                        (tr(context, "reg_btn_under14"), reg_data("age", True)),
                        (tr(context, "reg_btn_over14"), reg_data("age", False)),
                    ]
                ]
            ),
        )
    elif state.step == "guardian":
        await ask_guardian(update, context)
    elif state.step == "name":
        person = await people.person(uid)
        text = (
            tr(context, "reg_ask_name_edit", name=person.real_name)
            if person
            else tr(context, "reg_ask_name")
        )
        # a person on an imported roster shares the phone instead and only confirms
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton(tr(context, "reg_btn_share"), request_contact=True)]],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
        await reply(update, context, text + "\n" + tr(context, "reg_roster_hint"), markup)
    elif state.step == "org":
        await send_picker(update, context, state.picker_at)
    elif state.step == "phone":
        markup = ReplyKeyboardMarkup(
            [
                [KeyboardButton(tr(context, "reg_btn_share"), request_contact=True)],
                [KeyboardButton(tr(context, "reg_btn_skip"))],
            ],
            one_time_keyboard=True,
            resize_keyboard=True,
        )
        await reply(update, context, tr(context, "reg_ask_phone"), markup)
    elif state.step == "consent":
        # the summary and the privacy notice together: agreeing registers (one tap, not two)
        note = tr(context, "reg_phone_note") if state.phone else ""
        summary = tr(
            context,
            "reg_confirm",
            name=state.real_name,
            org=state.org_name,
            phone=state.phone or tr(context, "reg_phone_none"),
        )
        consent = tr(context, "reg_consent", phone_note=Raw(note))
        text = f"{summary}\n\n{consent}"
        if state.from_roster:  # name and org came from the roster: say so first
            text = (
                tr(context, "reg_roster_found", name=state.real_name, org=state.org_name)
                + "\n\n"
                + text
            )
        await reply(
            update,
            context,
            Raw(text),
            keyboard(
                [
                    [(tr(context, "reg_btn_agree_register"), reg_data("consent", True))],
                    [
                        (tr(context, "reg_btn_restart"), reg_data("confirm", False)),
                        (tr(context, "reg_btn_decline"), reg_data("consent", False)),
                    ],
                ]
            ),
        )
    elif state.step == "confirm":
        await reply(
            update,
            context,
            tr(
                context,
                "reg_confirm",
                name=state.real_name,
                org=state.org_name,
                phone=state.phone or tr(context, "reg_phone_none"),
            ),
            keyboard(
                [
                    [
                        (tr(context, "reg_btn_confirm"), reg_data("confirm", True)),
                        (tr(context, "reg_btn_restart"), reg_data("confirm", False)),
                    ]
                ]
            ),
        )


async def send_picker(
    update: Update, context: Context, org_id: int | None, edit: bool = False
) -> None:
    """The org picker: drill down the tree, or pick the org shown."""
    org, kids = await context.services.tower.choices(org_id)
    if org is None:
        raise (
            Refusal("err_unknown_org", code=str(org_id))
            if org_id
            else Refusal("err_chat_not_bound")
        )
    rows = [[(k.name[:40], reg_data("org", k.id))] for k in kids[:PICKER_ROWS]]
    rows.append([(tr(context, "reg_btn_pick", org=org.name[:30]), reg_data("pick", org.id))])
    if org.parent_id:
        rows.append([(tr(context, "reg_btn_up"), reg_data("org", org.parent_id))])
    text = tr(context, "reg_ask_org", org=org.name)
    if edit and update.callback_query:
        await update.callback_query.edit_message_text(text, reply_markup=keyboard(rows))
    else:
        await reply(update, context, text, keyboard(rows))


async def registration_input(update: Update, context: Context) -> None:
    """A text or contact sent while registering answers the current step."""
    people = context.services.people
    uid = actor(update).user_id
    state = await people.registration(uid)
    if state is None:
        return
    message = message_of(update)
    if state.step == "name" and message.contact is not None:
        state = await people.give_phone(uid, message.contact.phone_number, message.contact.user_id)
    elif state.step == "name":
        state = await people.give_name(uid, message.text or "")
    elif state.step == "org":
        state = await people.pick_org_code(uid, message.text or "")
    elif state.step == "phone":
        if message.contact is not None:
            state = await people.give_phone(
                uid, message.contact.phone_number, message.contact.user_id
            )
        elif (message.text or "").strip() in (tr(context, "reg_btn_skip"), "跳过", "Skip", "skip"):
            state = await people.give_phone(uid, None)
        else:
            raise Refusal("err_not_own_contact")
    elif state.step == "guardian":  # a minor types before a guardian agreed: nothing is kept
        raise Refusal("err_minor_wait_guardian")
    elif state.step == "age":  # the age question is answered with its buttons, never typed
        raise Refusal("err_answer_age")
    else:
        raise Refusal("err_wrong_step")
    await ask_step(update, context, state)


async def registration_button(update: Update, context: Context) -> None:
    """Buttons of the registration: under 14 or not, org picker, consent, confirm."""
    query = query_of(update)
    people = context.services.people
    uid = actor(update).user_id
    require_own_private(update)
    what, value = parse_reg_data(query.data)
    if what == "org":
        state = await people.registration(uid)
        if state is None or state.step != "org":
            raise Refusal("err_wrong_step")
        await send_picker(update, context, int(value), edit=True)  # refuses an unknown org
        await query.answer()
        return
    if what == "age":
        state = await people.answer_age(uid, bool(value))
    elif what == "pick":
        state = await people.pick_org(uid, int(value))
    elif what == "consent" and value is False:
        await people.consent(uid, False)
        await query.answer()
        await query.edit_message_reply_markup(None)
        await reply(update, context, tr(context, "reg_declined"))
        return
    elif what in ("consent", "confirm") and value is True:  # agree (confirm: an older button)
        _person, state = await people.confirm(uid, actor(update), agreed=what == "consent")
        await query.answer()
        await query.edit_message_reply_markup(None)
        key = "reg_updated" if state.editing else "reg_done"
        # the contact keyboard of the phone step goes away with this message
        await reply(update, context, tr(context, key, org=state.org_name), ReplyKeyboardRemove())
        if state.after:
            await resume_after(update, context, state.after)
        return
    else:  # confirm: No, start again (only from the open summary)
        state = await people.restart(uid)
    await query.answer()
    await query.edit_message_reply_markup(None)
    await ask_step(update, context, state)


async def resume_after(update: Update, context: Context, payload: str) -> None:
    prefix, _, rest = payload.partition("_")
    handler = context.hooks.deep_links.get(prefix)
    if handler is not None:
        await handler(update, context, rest)


async def cancel(update: Update, context: Context) -> None:
    """Leave any guided flow."""
    require_private(update)
    left = await context.services.people.cancel(actor(update).user_id)
    await reply(
        update,
        context,
        tr(context, "cancelled" if left else "nothing_to_cancel"),
        ReplyKeyboardRemove(),
    )


async def me(update: Update, context: Context) -> None:
    """Profile, org and roles (private only: it shows personal data)."""
    require_private(update)
    uid = actor(update).user_id  # shown to the person: what TOWERBOT_SUPERUSERS asks for
    profile = await context.services.people.profile(uid)
    if profile.person is None:
        await reply(update, context, tr(context, "me_unregistered", user_id=uid))
        return
    parts = [
        tr(
            context,
            "me_profile",
            name=profile.person.real_name,
            org=profile.org.name if profile.org else "?",
            phone=profile.person.phone or tr(context, "reg_phone_none"),
            user_id=uid,
        )
    ]
    if profile.roles:
        roles = "、".join(
            f"{org.name} {tr(context, 'role_' + role)}" for org, role in profile.roles
        )
        parts.append(tr(context, "me_roles", roles=roles))
    for section in context.hooks.me_sections:
        text = await section(update, context, profile)
        if text:
            parts.append(text)
    await reply(update, context, Raw("\n\n".join(parts)))


def _forget_buttons(context: Context) -> InlineKeyboardMarkup:
    return keyboard(
        [
            [
                (tr(context, "forget_btn_yes"), forget_data(True)),
                (tr(context, "forget_btn_no"), forget_data(False)),
            ]
        ]
    )


async def forget_me(update: Update, context: Context) -> None:
    """Ask before deleting personal data."""
    require_private(update)
    await context.services.people.ask_forget(actor(update).user_id)
    await reply(update, context, tr(context, "forget_ask"), _forget_buttons(context))


async def forget_button(update: Update, context: Context) -> None:
    """Carry out or drop the deletion; pressed again after a crash, it finishes it."""
    query = query_of(update)
    require_own_private(update)
    yes = parse_forget_data(query.data)
    uid = actor(update).user_id
    services = context.services
    # only an open /forgetme question's buttons count (a forged or stale press changes nothing);
    # an unregistered person (a guardian, say) may still have data to forget
    await services.people.require_forget_open(uid)
    if not yes:
        await services.people.cancel(uid)  # the question is closed
        await query.answer()
        await query.edit_message_reply_markup(None)
        await reply(update, context, tr(context, "forget_kept"))
        return
    who = actor(update)
    # the hooks and the erasure commit one by one, all safe to run again: should the bot die
    # among them, this stand-in asks for the press that finishes the job (the erasure deletes
    # it with the person's other private messages; a "done" queued there would keep the id)
    await services.outbox.send(
        uid,
        tr(context, "forget_unfinished"),
        user_id=uid,
        urgent=True,
        not_before=services.clock.time() + GUARD_GRACE,
        reply_markup=_forget_buttons(context).to_dict(),
    )
    # features first (leaving open activities promotes the next person), then the erasure
    for hook in context.hooks.forget_hooks:
        await hook(context, who.user_id)
    await query.answer()
    deleted = await services.privacy.forget(who)
    services.people.forget_cache(who.user_id)
    await query.edit_message_reply_markup(None)
    await reply(update, context, tr(context, "forget_done" if deleted else "forget_nothing"))


async def lang(update: Update, context: Context) -> None:
    """/lang zh|en (private: a group gets the button to the private chat)."""
    require_private(update)
    if context.args is None or len(context.args) != 1:
        await reply(update, context, tr(context, "usage_lang"))
        return
    context.lang = await context.services.people.set_lang(actor(update).user_id, context.args[0])
    await reply(update, context, tr(context, "lang_set"))


async def help_command(update: Update, context: Context) -> None:
    """Commands this person may use here."""
    services = context.services
    if not is_private(update):
        await reply(update, context, tr(context, "help_group", link=deep_link(context, "help")))
        return
    uid = actor(update).user_id
    tops = await services.access.top_orgs(uid)
    parts = [tr(context, "help_member")]
    roles = {role for _, role in tops}
    if roles & {"secretary", "staff"}:
        parts.append(tr(context, "help_secretary"))
    for key, extra in context.hooks.help_sections:
        if extra in roles or (extra == "secretary" and "staff" in roles) or extra == "member":
            parts.append(tr(context, key))
    if "staff" in roles:
        parts.append(tr(context, "help_staff"))
    if services.access.is_superuser(uid):
        parts.append(tr(context, "help_superuser"))
    await reply(update, context, Raw("\n\n".join(parts)))


async def private_input(update: Update, context: Context) -> None:
    """Route a private non-command message to the person's guided flow, else to the idle
    answer (what it can be used for)."""
    flow = await context.services.people.flow_name(actor(update).user_id)
    handler = context.hooks.flows.get(flow or "") or context.hooks.idle
    if handler is not None:
        await handler(update, context)


async def help_link(update: Update, context: Context, rest: str) -> None:
    """`/start help`: the same as /help."""
    await help_command(update, context)


def register_handlers(app: Application, hooks: Hooks) -> None:
    hooks.add_flow(REGISTER, registration_input)
    hooks.add_deep_link(JOIN_LINK, join_link)
    hooks.add_deep_link("help", help_link)
    add_handlers(
        app,
        commands={
            "start": start,
            "register": register,
            "cancel": cancel,
            "me": me,
            "forgetme": forget_me,
            "lang": lang,
            "help": help_command,
        },
        buttons={REG_DATA: registration_button, FORGET_DATA: forget_button},
    )


def register_fallback(app: Application) -> None:
    """Private free text and contacts go to the guided flow; registered last."""
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE
            & ~filters.COMMAND
            & (filters.TEXT | filters.CONTACT | filters.Document.ALL | filters.LOCATION),
            private_input,
        )
    )
