"""Webhook settings: setWebhook, deleteWebhook, getWebhookInfo (no delivery yet)."""

from __future__ import annotations

from .records import JSONDict, Upload
from .world import World

#: Bot API method name → handler attribute.
METHODS = {
    "setWebhook": "_set_webhook",
    "deleteWebhook": "_delete_webhook",
    "getWebhookInfo": "_get_webhook_info",
}


class Webhook(World):
    """The webhook URL as the bot set it; getUpdates answers 409 while it is set."""

    def _init_webhook(self) -> None:
        pass

    async def stop_webhook(self) -> None:
        """Nothing is delivered yet, so nothing to stop."""

    def _set_webhook(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.webhook_url = str(params.get("url") or "")
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return True

    def _delete_webhook(self, params: JSONDict, files: dict[str, Upload]) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return True

    def _get_webhook_info(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        info: JSONDict = {"url": self.webhook_url, "has_custom_certificate": False,
                          "pending_update_count": len(self.pending_updates)}
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info
