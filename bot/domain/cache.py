"""In-memory copies of the rows every update reads: who a user is, their roles, a chat's org.

Each update used to read them from SQLite, one thread hop each (see bench/roundtrip.py). The
copies are bounded (least recently used go first) and expire after `ttl` seconds, so a write
made by a process that does not announce it (the CLI or a second instance on SQLite) shows
within that time.

Every write that changes a cached row invalidates it after its transaction commits
(`after_commit`, through `Database.on_commit`): a rolled-back write leaves the cache as it
was, and a reader that raced the write never stores what it read before the commit (`stamp`
and `put`). `invalidate(kind, key)` is the one entry point.

Several instances on one PostgreSQL database: the same helpers send '<kind>:<key>' on CHANNEL
with the transaction (`Database.notify`: NOTIFY, delivered only on commit), and `follow`
makes this cache apply what the others send (`Database.listen`). While the listening
connection is down nothing is served from or stored in the cache (messages may be missed);
once it listens again the cache starts empty.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Literal, TypeVar, cast, get_args
from weakref import WeakKeyDictionary

from storage import users as user_repo
from storage.db import Conn, Database, Subscription

#: identity: a user's users row, people row, org and roles with their orgs, by user id (None:
#: no users row); chat: the org a chat is bound to (None: not bound), by chat id; flow: the
#: name of the person's guided flow (None: no flow), by user id; root: the root org, key 0;
#: hours: a person's hour sums (/me), upcoming: their next activities (/me), cadres: their
#: posts and training record (/me), by user id
Kind = Literal["identity", "chat", "flow", "root", "hours", "upcoming", "cadres"]
KINDS: tuple[Kind, ...] = get_args(Kind)
#: what a write to an org (created, renamed) makes stale: everything that holds an Org
ORG_KINDS: tuple[Kind, ...] = ("identity", "chat", "root", "cadres")
#: what a user id keys
USER_KINDS: tuple[Kind, ...] = ("identity", "flow", "hours", "upcoming", "cadres")
SIZE = 20_000
TTL = 60.0
#: the NOTIFY channel of cache invalidations; messages are '<kind>:<key>' ('*': every key),
#: 'user:<id>' (every USER_KINDS entry) and 'orgs:*' (every ORG_KINDS entry)
CHANNEL = "towerbot_cache"
#: what `Cache.get` returns for a key it does not hold (None is a value: "no flow", "unbound")
MISSING: Any = object()
_T = TypeVar("_T")


class Cache:
    """Bounded, expiring copies per kind; invalidated by writes after they commit."""

    def __init__(
        self, size: int = SIZE, ttl: float = TTL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = size
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Kind, OrderedDict[Hashable, tuple[float, Any]]] = {
            kind: OrderedDict() for kind in KINDS
        }
        #: per kind, bumped by every invalidation of it: a read that started before is not stored
        self._generation: dict[Kind, int] = dict.fromkeys(KINDS, 0)
        #: False while invalidations from other instances may be missed: nothing is served
        self.live = True
        self.hits = 0
        self.misses = 0

    def get(self, kind: Kind, key: Hashable) -> Any:
        """The cached value, or MISSING."""
        entries = self._entries[kind]
        found = entries.get(key)
        if found is None or found[0] < self._clock() or not self.live:
            if found is not None:
                del entries[key]
            self.misses += 1
            return MISSING
        entries.move_to_end(key)
        self.hits += 1
        return found[1]

    def stamp(self, kind: Kind) -> int:
        """Taken before reading the database; `put` stores the result only if no entry of
        `kind` was invalidated meanwhile."""
        return self._generation[kind]

    def put(self, kind: Kind, key: Hashable, value: Any, stamp: int) -> None:
        """Store what was read since `stamp`, unless a write was invalidated meanwhile."""
        if stamp != self._generation[kind] or not self.live:
            return
        entries = self._entries[kind]
        entries[key] = (self._clock() + self.ttl, value)
        entries.move_to_end(key)
        while len(entries) > self.size:
            entries.popitem(last=False)

    async def load(self, kind: Kind, key: Hashable, read: Callable[[], Awaitable[_T]]) -> _T:
        """The cached value, else `await read()` stored."""
        value = self.get(kind, key)
        if value is not MISSING:
            return cast(_T, value)
        stamp = self.stamp(kind)
        value = await read()
        self.put(kind, key, value, stamp)
        return value

    def invalidate(self, kind: Kind, key: Hashable | None = None) -> None:
        """Drop one entry (or every entry of `kind` when `key` is None)."""
        self._generation[kind] += 1
        if key is None:
            self._entries[kind].clear()
        else:
            self._entries[kind].pop(key, None)

    def invalidate_user(self, user_id: int) -> None:
        """Everything kept about one user (registration, /forgetme, an erasure)."""
        for kind in USER_KINDS:
            self.invalidate(kind, user_id)

    def invalidate_orgs(self) -> None:
        """An org was created or renamed: every copy that holds an org goes."""
        for kind in ORG_KINDS:
            self.invalidate(kind)

    def clear(self) -> None:
        for kind in KINDS:
            self.invalidate(kind)

    def following(self, live: bool) -> None:
        """The feed of other instances' invalidations stopped (False: bypass the cache, since
        some may be missed) or runs again (True: start empty, then serve)."""
        self.clear()
        self.live = live

    def apply(self, message: str) -> None:
        """An invalidation another instance sent (see CHANNEL); anything unreadable clears."""
        kind, _, key = message.partition(":")
        try:
            number = None if key == "*" else int(key)
        except ValueError:
            number, kind = None, ""
        if kind == "user" and number is not None:
            self.invalidate_user(number)
        elif kind == "orgs":
            self.invalidate_orgs()
        elif kind in KINDS:
            self.invalidate(kind, number)
        else:
            self.clear()

    def keys(self, kind: Kind) -> list[Hashable]:
        """The keys held (for tests and `towerbot status`)."""
        return list(self._entries[kind])

    def holds(self, key: Hashable) -> bool:
        """Whether any kind holds an entry under `key`."""
        return any(key in entries for entries in self._entries.values())


# One cache per Database, so every service that writes through `db` can invalidate without
# being handed the cache (and two applications in one process never share one).
_CACHES: WeakKeyDictionary[Database, Cache] = WeakKeyDictionary()


def cache_of(db: Database) -> Cache:
    """The cache of rows read through `db`."""
    cache = _CACHES.get(db)
    if cache is None:
        cache = _CACHES[db] = Cache()
    return cache


def after_commit(db: Database, kind: Kind, key: int | None = None) -> None:
    """Inside a transaction on `db`: invalidate (kind, key) once it commits, here and on every
    instance that follows the database."""
    cache = cache_of(db)
    db.on_commit(lambda: cache.invalidate(kind, key))
    db.notify(CHANNEL, f"{kind}:{'*' if key is None else int(key)}")


def user_after_commit(db: Database, user_id: int) -> None:
    """Inside a transaction on `db`: everything kept about `user_id` goes once it commits."""
    cache = cache_of(db)
    db.on_commit(lambda: cache.invalidate_user(user_id))
    db.notify(CHANNEL, f"user:{int(user_id)}")


def orgs_after_commit(db: Database) -> None:
    """Inside a transaction on `db` that creates or renames an org."""
    cache = cache_of(db)
    db.on_commit(cache.invalidate_orgs)
    db.notify(CHANNEL, "orgs:*")


async def follow(db: Database) -> Subscription:
    """Keep the cache of `db` in step with other instances' writes (PostgreSQL): nothing is
    served until the listening connection is up, nor whenever it is down."""
    cache = cache_of(db)
    cache.following(False)
    return await db.listen(CHANNEL, cache.apply, cache.following)


# --- the guided-flow writes: every one goes through here, so "flow" copies follow -----------


async def set_flow(
    db: Database, tx: Conn, user_id: int, name: str, state: dict[str, Any], now: float
) -> None:
    """Inside a transaction on `db`: the person's guided flow becomes `name` with `state`."""
    await user_repo.set_flow(tx, user_id, name, state, now)
    after_commit(db, "flow", user_id)


async def clear_flow(db: Database, tx: Conn, user_id: int) -> bool:
    """Inside a transaction on `db`: the person leaves their guided flow (False: none)."""
    after_commit(db, "flow", user_id)
    return await user_repo.clear_flow(tx, user_id)
