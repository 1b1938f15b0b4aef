"""Domain errors: a refusal carries a text key and values; the handler renders it."""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """The action is not allowed or the input is wrong; nothing was changed."""

    def __init__(self, key: str, **values: Any) -> None:
        super().__init__(key)
        self.key = key
        self.values = values
