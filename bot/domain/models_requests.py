"""Requests upward (请示报告) as repositories return them."""

from __future__ import annotations

from pydantic import BaseModel


class Request(BaseModel):
    """A request from `from_org_id` to `to_org_id` (an org, not a person), and its decision."""

    id: int
    from_org_id: int
    to_org_id: int
    requester_id: int | None = None
    text: str = ""
    file_id: str | None = None
    file_name: str | None = None
    created_at: float
    status: str = "open"  # open | approved | rejected
    decided_by: int | None = None
    decided_at: float | None = None
    erased: bool = False
    # joined for display: the orgs' names, the Telegram display names (never real names)
    from_name: str = ""
    to_name: str = ""
    requester_first: str = ""
    decider_first: str = ""
    replies: int = 0

    @property
    def is_open(self) -> bool:
        return self.status == "open"


class Reply(BaseModel):
    """One reply of the staff above to a request (the request stays open)."""

    id: int
    request_id: int
    user_id: int | None = None
    text: str
    created_at: float
    first_name: str = ""


class ExportRow(BaseModel):
    """One request as the export lays it out: names, not ids (real names where registered)."""

    id: int
    from_name: str
    to_name: str
    requester: str = ""
    text: str = ""
    file_name: str | None = None
    created_at: float
    status: str
    decider: str = ""
    decided_at: float | None = None
    replies: str = ""
