"""Models of guardian consent for minors (no imports of ours: a leaf like models.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ConsentMethod = Literal["telegram", "paper"]


class GuardianRequest(BaseModel):
    """One single-use guardian link: whose it is, for which org, and whether it still works."""

    model_config = ConfigDict(frozen=True)

    id: int
    user_id: int
    org_id: int
    created_at: float
    expires_at: float
    used_at: float | None = None


class GuardianAsk(BaseModel):
    """What a guardian sees before agreeing: the minor's account and the org."""

    request_id: int
    minor_id: int
    org_name: str
