"""Pydantic models of cadre posts, their holders and training records (a leaf module)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Post(BaseModel):
    """A declared post of an org (书记 'secretary', 副书记 'deputy', 委员 'committee')."""

    model_config = ConfigDict(frozen=True)

    id: int
    org_id: int
    position: str
    created_at: float


class Holding(BaseModel):
    """Who holds (or held) a post, how (专职 'full', 挂职 'seconded', 兼职 'part') and for what
    term (local dates 'YYYY-MM-DD'); the current holder has `ended_at` None."""

    model_config = ConfigDict(frozen=True)

    id: int
    post_id: int
    user_id: int
    mode: str | None = None
    term_start: str | None = None
    term_end: str | None = None
    appointed_by: int | None = None
    started_at: float
    ended_at: float | None = None


class RosterLine(BaseModel):
    """One post of the roster with its current holder. `post_id` None: the implicit 书记 post
    of an org that declared none (held by its secretaries)."""

    model_config = ConfigDict(frozen=True)

    org_id: int
    org_code: str
    org_name: str
    org_path: str = ""
    depth: int
    post_id: int | None = None
    position: str = "secretary"
    holding_id: int | None = None
    user_id: int | None = None
    mode: str | None = None
    term_start: str | None = None
    term_end: str | None = None
    first_name: str | None = None
    username: str | None = None
    real_name: str | None = None


class Training(BaseModel):
    """One training (培训班 'training', 团课 'lesson') a person attended."""

    model_config = ConfigDict(frozen=True)

    user_id: int
    activity_id: int
    title: str
    kind: str
    starts_at: float
    quarters: int
