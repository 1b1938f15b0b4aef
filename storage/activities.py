"""Activities: the events, their sign-ups (roster and waitlist) and the card copies in chats.

Sign-up decisions are made inside the caller's `transaction()` (BEGIN IMMEDIATE): the
counters on the activity row are read and written in that one transaction, and the table's
CHECK (confirmed <= capacity) and the sign-ups' primary key (activity, user) guard the
invariants a second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.domain.models_activities import Activity, Card, Signup
from storage import activity_posts
from storage.db import Conn, changed, fetchall, fetchone, insert_returning_id

_ACT = (
    "a.id, a.org_id, a.title, a.place, a.starts_at, a.quarters, a.capacity, a.lat, a.lon,"
    " a.radius_m, a.lang, a.status, a.confirmed, a.waiting, a.next_seq, a.version,"
    " a.checkin_open, a.created_by, a.created_at, a.ended_at, a.kind, a.signup_deadline,"
    " a.note, a.edits, a.post_count, o.name AS org_name, a.series_id, a.series_no,"
    " sr.rule AS series_rule, sr.total AS series_total"
)
_SERIES = " LEFT JOIN activity_series sr ON sr.id = a.series_id"  # an occurrence's series
_ACT_FROM = f"SELECT {_ACT} FROM activities a JOIN orgs o ON o.id = a.org_id{_SERIES}"
_SIGNUP = (
    "s.activity_id, s.user_id, s.status, s.seq, s.joined_at, s.checked_in_at, s.attendance,"
    " s.hour_entry_id, s.post_no, u.first_name AS first_name, u.lang AS lang, u.tg_lang AS tg_lang,"
    " p.org_id AS org_id"
)
_SIGNUP_FROM = (
    f"SELECT {_SIGNUP} FROM activity_signups s LEFT JOIN users u ON u.id = s.user_id"
    " LEFT JOIN people p ON p.user_id = s.user_id"
)
_CARD = "id, activity_id, chat_id, kind, message_id, outbox_id, shown_version, gone"


def _activity(row: Any) -> Activity:
    return Activity.model_validate(dict(row))


async def _with_posts(conn: Conn, found: list[Activity]) -> list[Activity]:
    """The activities with their posts loaded (one query, only when one of them has posts)."""
    ids = [a.id for a in found if a.post_count]
    if not ids:
        return found
    posts = await activity_posts.of(conn, ids)
    return [
        a.model_copy(update={"posts": posts.get(a.id, ())}) if a.post_count else a for a in found
    ]


def _signup(row: Any) -> Signup:
    return Signup.model_validate(dict(row))


def _card(row: Any) -> Card:
    return Card.model_validate(dict(row))


# --- activities ------------------------------------------------------------------------------


async def insert(
    conn: Conn,
    *,
    org_id: int,
    title: str,
    place: str,
    starts_at: float,
    quarters: int,
    capacity: int,
    lat: float | None,
    lon: float | None,
    radius_m: int,
    lang: str,
    created_by: int,
    now: float,
    kind: str | None = None,
    signup_deadline: float | None = None,
    note: str | None = None,
) -> int:
    return await insert_returning_id(
        conn,
        "INSERT INTO activities(org_id, title, place, starts_at, quarters, capacity, lat, lon,"
        " radius_m, lang, created_by, created_at, kind, signup_deadline, note)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            org_id,
            title,
            place,
            starts_at,
            quarters,
            capacity,
            lat,
            lon,
            radius_m,
            lang,
            created_by,
            now,
            kind,
            signup_deadline,
            note,
        ),
    )


async def _activities(conn: Conn, rest: str, params: Iterable[Any]) -> list[Activity]:
    """Activities (with their org's name) selected by `rest`: joins, WHERE, ORDER BY, LIMIT."""
    found = [_activity(r) for r in await fetchall(conn, f"{_ACT_FROM} {rest}", params)]
    return await _with_posts(conn, found)


async def get(conn: Conn, activity_id: int) -> Activity | None:
    row = await fetchone(conn, f"{_ACT_FROM} WHERE a.id = ?", (activity_id,))
    return (await _with_posts(conn, [_activity(row)]))[0] if row else None


async def of_series(conn: Conn, series_id: int) -> list[Activity]:
    """Every occurrence of a series (cancelled ones too), in order."""
    return await _activities(conn, "WHERE a.series_id = ? ORDER BY a.series_no", (series_id,))


async def get_locked(conn: Conn, activity_id: int) -> Activity | None:
    """`get` for a decision in the caller's transaction: a no-op write first takes the row's
    lock, so a concurrent transaction on another instance (PostgreSQL, READ COMMITTED) waits
    and then reads the counters this one leaves (SQLite's writer is exclusive anyway)."""
    await conn.execute("UPDATE activities SET version = version WHERE id = ?", (activity_id,))
    return await get(conn, activity_id)


async def many(conn: Conn, ids: list[int]) -> list[Activity]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return await _activities(conn, f"WHERE a.id IN ({marks})", ids)


async def open_in(conn: Conn, path: str, limit: int) -> list[Activity]:
    """Open activities of the subtree at `path` (which ends with '/'), soonest first."""
    return await _activities(
        conn,
        "WHERE a.status = 'open' AND o.path >= ? AND o.path < ? ORDER BY a.starts_at, a.id LIMIT ?",
        (path, path[:-1] + "0", limit),
    )


async def set_status(conn: Conn, activity_id: int, status: str, now: float) -> bool:
    """open -> closed|cancelled, once; False if it was no longer open."""
    return (
        await changed(
            conn,
            "UPDATE activities SET status = ?, ended_at = ?, version = version + 1"
            " WHERE id = ? AND status = 'open'",
            (status, now, activity_id),
        )
        == 1
    )


async def open_checkin(conn: Conn, activity_id: int) -> None:
    await conn.execute("UPDATE activities SET checkin_open = 1 WHERE id = ?", (activity_id,))


async def bump(conn: Conn, activity_id: int) -> None:
    """Something a card shows changed (e.g. sign-up closed at the start)."""
    await conn.execute("UPDATE activities SET version = version + 1 WHERE id = ?", (activity_id,))


# --- sign-ups --------------------------------------------------------------------------------


async def signup_of(conn: Conn, activity_id: int, user_id: int) -> Signup | None:
    row = await fetchone(
        conn,
        f"{_SIGNUP_FROM} WHERE s.activity_id = ? AND s.user_id = ?",
        (activity_id, user_id),
    )
    return _signup(row) if row else None


async def join(conn: Conn, activity: Activity, user_id: int, now: float) -> tuple[str, int] | None:
    """Sign up (or re-join after a cancel) with the counters read in this transaction.

    Returns (status, seq): 'confirmed' while there is room, else 'waiting'; None (and nothing
    changed) when the person is already signed up or waiting. One upsert decides both.
    """
    seq = activity.next_seq + 1
    status = "confirmed" if activity.confirmed < activity.capacity else "waiting"
    async with conn.execute(
        "INSERT INTO activity_signups(activity_id, user_id, status, seq, joined_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT(activity_id, user_id) DO UPDATE SET"
        " status = excluded.status, seq = excluded.seq, joined_at = excluded.joined_at,"
        " checked_in_at = NULL WHERE activity_signups.status = 'cancelled' RETURNING seq",
        (activity.id, user_id, status, seq, now),
    ) as cur:
        inserted = await cur.fetchone()
    if inserted is None:
        return None
    await conn.execute(
        "UPDATE activities SET next_seq = ?, version = version + 1,"
        " confirmed = confirmed + ?, waiting = waiting + ? WHERE id = ?",
        (seq, int(status == "confirmed"), int(status == "waiting"), activity.id),
    )
    return status, seq


async def live_signups(
    conn: Conn, activity_id: int, user_ids: list[int]
) -> dict[int, tuple[str, int, int | None]]:
    """Of these people, who is signed up or waiting: (status, seq, post number) by user id."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await fetchall(
        conn,
        "SELECT user_id, status, seq, post_no FROM activity_signups WHERE activity_id = ?"
        f" AND status <> 'cancelled' AND user_id IN ({marks})",
        (activity_id, *user_ids),
    )
    return {
        int(r[0]): (str(r[1]), int(r[2]), int(r[3]) if r[3] is not None else None) for r in rows
    }


#: a sign-up a batch decided: (activity, user, status, seq, joined_at, post number)
Claim = tuple[int, int, str, int, float, int | None]


async def claim_many(conn: Conn, claims: list[Claim]) -> None:
    """Write the sign-ups a batch decided, for people with no live sign-up (a cancelled one is
    taken over); the batch keeps the counters."""
    if claims:
        await conn.executemany(
            "INSERT INTO activity_signups(activity_id, user_id, status, seq, joined_at, post_no)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(activity_id, user_id) DO UPDATE SET"
            " status = excluded.status, seq = excluded.seq, joined_at = excluded.joined_at,"
            " post_no = excluded.post_no, checked_in_at = NULL"
            " WHERE activity_signups.status = 'cancelled'",
            claims,
        )


async def set_counters(
    conn: Conn, activity_id: int, *, confirmed: int, waiting: int, next_seq: int
) -> None:
    """The counters a batch of sign-ups left (the CHECK still guards the capacity)."""
    await conn.execute(
        "UPDATE activities SET confirmed = ?, waiting = ?, next_seq = ?, version = version + 1"
        " WHERE id = ?",
        (confirmed, waiting, next_seq, activity_id),
    )


async def leave(
    conn: Conn, activity_id: int, user_id: int, was: str, post_no: int | None = None
) -> int | None:
    """Cancel a sign-up; a confirmed place goes to the first waiting person of the same post
    (whose id is returned)."""
    await conn.execute(
        "UPDATE activity_signups SET status = 'cancelled', checked_in_at = NULL"
        " WHERE activity_id = ? AND user_id = ?",
        (activity_id, user_id),
    )
    promoted: int | None = None
    if was == "confirmed":
        promoted = await activity_posts.first_waiting(conn, activity_id, post_no)
        if promoted is not None:
            await conn.execute(
                "UPDATE activity_signups SET status = 'confirmed'"
                " WHERE activity_id = ? AND user_id = ?",
                (activity_id, promoted),
            )
    confirmed = -1 if was == "confirmed" and promoted is None else 0
    waiting = 0 if was == "confirmed" and promoted is None else -1
    await conn.execute(
        "UPDATE activities SET confirmed = confirmed + ?, waiting = waiting + ?,"
        " version = version + 1 WHERE id = ?",
        (confirmed, waiting, activity_id),
    )
    if post_no is not None:
        await activity_posts.moved(conn, activity_id, post_no, confirmed, waiting)
    return promoted


async def waiting_position(conn: Conn, activity_id: int, seq: int) -> int:
    row = await fetchone(
        conn,
        "SELECT COUNT(*) FROM activity_signups WHERE activity_id = ? AND status = 'waiting'"
        " AND seq <= ?",
        (activity_id, seq),
    )
    return int(row[0]) if row else 0


async def roster(
    conn: Conn, activity_id: int, statuses: tuple[str, ...], post_no: int | None = None
) -> list[Signup]:
    """Sign-ups with the given statuses (of one post, if named), in press order."""
    marks = ",".join("?" * len(statuses))
    post = "" if post_no is None else " AND s.post_no = ?"
    rows = await fetchall(
        conn,
        f"{_SIGNUP_FROM} WHERE s.activity_id = ? AND s.status IN ({marks}){post} ORDER BY s.seq",
        (activity_id, *statuses, *(() if post_no is None else (post_no,))),
    )
    return [_signup(r) for r in rows]


async def registered_among(conn: Conn, user_ids: list[int]) -> set[int]:
    """Which of these users are registered people."""
    if not user_ids:
        return set()
    marks = ",".join("?" * len(user_ids))
    rows = await fetchall(conn, f"SELECT user_id FROM people WHERE user_id IN ({marks})", user_ids)
    return {int(r[0]) for r in rows}


async def card_messages(conn: Conn, activity_id: int) -> set[tuple[int, int]]:
    """(chat id, message id) of every card message recorded for the activity."""
    rows = await fetchall(
        conn,
        "SELECT chat_id, message_id FROM activity_cards"
        " WHERE activity_id = ? AND kind = 'card' AND message_id IS NOT NULL",
        (activity_id,),
    )
    return {(int(r[0]), int(r[1])) for r in rows}


async def overlapping_for(
    conn: Conn, activity_id: int, user_ids: list[int]
) -> dict[int, list[Activity]]:
    """Per person of `user_ids`: the other open activities they are signed up for that overlap
    this one in time (one read for a whole batch of presses)."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await fetchall(
        conn,
        f"SELECT {_ACT}, s.user_id AS signer FROM activities a JOIN orgs o ON o.id = a.org_id"
        f"{_SERIES} JOIN activity_signups s ON s.activity_id = a.id"
        " JOIN activities this ON this.id = ?"
        f" WHERE s.user_id IN ({marks}) AND s.status IN ('confirmed', 'waiting')"
        " AND a.id <> this.id AND a.status = 'open'"
        " AND a.starts_at < this.starts_at + this.quarters * 900"
        " AND a.starts_at + a.quarters * 900 > this.starts_at ORDER BY a.starts_at",
        (activity_id, *user_ids),
    )
    found: dict[int, list[Activity]] = {}
    for row in rows:
        found.setdefault(int(row["signer"]), []).append(_activity(row))
    return found


async def check_in(conn: Conn, activity_id: int, user_id: int, now: float) -> bool:
    """Mark a confirmed person present; False if already checked in."""
    return (
        await changed(
            conn,
            "UPDATE activity_signups SET checked_in_at = ? WHERE activity_id = ? AND user_id = ?"
            " AND status = 'confirmed' AND checked_in_at IS NULL",
            (now, activity_id, user_id),
        )
        == 1
    )


async def set_attendance(
    conn: Conn, activity_id: int, user_id: int, attendance: str, hour_entry_id: int | None
) -> None:
    await conn.execute(
        "UPDATE activity_signups SET attendance = ?, hour_entry_id = ?"
        " WHERE activity_id = ? AND user_id = ?",
        (attendance, hour_entry_id, activity_id, user_id),
    )


async def upcoming_of(
    conn: Conn, user_id: int, now: float, limit: int
) -> list[tuple[Activity, str]]:
    """The person's open activities still ahead, with their sign-up status (for /me)."""
    rows = await fetchall(
        conn,
        f"SELECT {_ACT}, s.status AS signup_status FROM activities a"
        f" JOIN orgs o ON o.id = a.org_id{_SERIES} JOIN activity_signups s ON s.activity_id = a.id"
        " WHERE s.user_id = ? AND s.status IN ('confirmed', 'waiting') AND a.status = 'open'"
        " AND a.starts_at >= ? ORDER BY a.starts_at LIMIT ?",
        (user_id, now, limit),
    )
    out = []
    for r in rows:
        data = dict(r)
        status = data.pop("signup_status")
        out.append((Activity.model_validate(data), status))
    return out


async def forget_user(conn: Conn, user_id: int) -> None:
    """/forgetme: drop open sign-ups' future claims (attended history stays, anonymised)."""
    await conn.execute(
        "UPDATE activity_signups SET status = 'cancelled' WHERE user_id = ?"
        " AND status IN ('confirmed', 'waiting') AND activity_id IN"
        " (SELECT id FROM activities WHERE status = 'open')",
        (user_id,),
    )


async def recount(conn: Conn, activity_id: int) -> tuple[int, int]:
    """(confirmed, waiting) counted from the sign-ups themselves (tests and repairs)."""
    row = await fetchone(
        conn,
        "SELECT COUNT(CASE WHEN status = 'confirmed' THEN 1 END),"
        " COUNT(CASE WHEN status = 'waiting' THEN 1 END)"
        " FROM activity_signups WHERE activity_id = ?",
        (activity_id,),
    )
    assert row is not None
    return int(row[0]), int(row[1])


# --- cards -----------------------------------------------------------------------------------


async def link_outbox_copies(conn: Conn, sent: list[tuple[int, int]]) -> None:
    """(outbox id, message id) of rows just sent: card copies queued through the outbox learn
    where they are (a no-op for every other row)."""
    await conn.executemany(
        "UPDATE activity_cards SET message_id = ? WHERE outbox_id = ? AND message_id IS NULL",
        [(message_id, outbox_id) for outbox_id, message_id in sent],
    )


async def add_card(
    conn: Conn,
    *,
    activity_id: int,
    chat_id: int,
    kind: str = "card",
    message_id: int | None = None,
    outbox_id: int | None = None,
    shown_version: int = 0,
) -> int:
    async with conn.execute(
        "INSERT INTO activity_cards(activity_id, chat_id, kind, message_id, outbox_id,"
        " shown_version) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT(activity_id, chat_id, kind) DO UPDATE SET message_id = excluded.message_id,"
        " outbox_id = excluded.outbox_id, shown_version = excluded.shown_version, gone = 0"
        " RETURNING id",
        (activity_id, chat_id, kind, message_id, outbox_id, shown_version),
    ) as cur:
        row = await cur.fetchone()
    assert row is not None
    return int(row[0])


async def card_at(conn: Conn, chat_id: int, message_id: int) -> Card | None:
    row = await fetchone(
        conn,
        f"SELECT {_CARD} FROM activity_cards WHERE chat_id = ? AND message_id = ?",
        (chat_id, message_id),
    )
    return _card(row) if row else None


async def cards_of(conn: Conn, activity_ids: list[int], kind: str = "card") -> list[Card]:
    if not activity_ids:
        return []
    marks = ",".join("?" * len(activity_ids))
    rows = await fetchall(
        conn,
        f"SELECT {_CARD} FROM activity_cards WHERE kind = ? AND gone = 0"
        f" AND activity_id IN ({marks}) ORDER BY id",
        (kind, *activity_ids),
    )
    return [_card(r) for r in rows]


async def stale_activity_ids(conn: Conn) -> list[int]:
    """Activities with a card copy showing an old version (read once at start-up)."""
    rows = await fetchall(
        conn,
        "SELECT DISTINCT c.activity_id FROM activity_cards c JOIN activities a"
        " ON a.id = c.activity_id WHERE c.kind = 'card' AND c.gone = 0"
        " AND c.shown_version < a.version",
    )
    return [int(r[0]) for r in rows]


async def set_card_message(conn: Conn, card_id: int, message_id: int) -> None:
    await conn.execute(
        "UPDATE activity_cards SET message_id = ? WHERE id = ?", (message_id, card_id)
    )


async def mark_shown(conn: Conn, shown: list[tuple[int, int]]) -> None:
    """Batch: (card id, version) now shown (never moves backwards)."""
    await conn.executemany(
        "UPDATE activity_cards SET shown_version = ? WHERE id = ? AND shown_version < ?",
        [(version, card_id, version) for card_id, version in shown],
    )


async def mark_gone(conn: Conn, card_ids: list[int]) -> None:
    await conn.executemany(
        "UPDATE activity_cards SET gone = 1 WHERE id = ?", [(i,) for i in card_ids]
    )


async def move_chat(conn: Conn, old: int, new: int) -> None:
    """Group -> supergroup (called from storage.outbox.migrate_chat)."""
    await conn.execute("UPDATE activity_cards SET chat_id = ? WHERE chat_id = ?", (new, old))


async def active_chats_in(conn: Conn, path: str) -> list[int]:
    """Active chats bound to orgs of the subtree at `path`, parents first."""
    rows = await fetchall(
        conn,
        "SELECT c.id FROM chats c JOIN orgs o ON o.id = c.org_id"
        " WHERE c.active = 1 AND o.path >= ? AND o.path < ? ORDER BY o.depth, o.code",
        (path, path[:-1] + "0"),
    )
    return [int(r[0]) for r in rows]


async def user_langs(conn: Conn, user_ids: list[int]) -> dict[int, tuple[str | None, str | None]]:
    """(chosen lang, Telegram lang) of each user, for messages composed in a transaction."""
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = await fetchall(
        conn, f"SELECT id, lang, tg_lang FROM users WHERE id IN ({marks})", user_ids
    )
    return {int(r[0]): (r[1], r[2]) for r in rows}


async def repoint_user(conn: Conn, user_id: int, tomb_id: int) -> None:
    """/forgetme: the person's sign-ups, check-ins and the activities they created name the
    tombstone instead (counts and attendance stay)."""
    await conn.execute(
        "UPDATE activity_signups SET user_id = ? WHERE user_id = ?", (tomb_id, user_id)
    )
    await conn.execute(
        "UPDATE activities SET created_by = ? WHERE created_by = ?", (tomb_id, user_id)
    )
