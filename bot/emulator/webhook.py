"""Webhook mode: setWebhook, deleteWebhook, getWebhookInfo, and delivery of updates by POST.

While a webhook is set, getUpdates answers 409 and a delivery task POSTs each queued update (in
order, one at a time) to the URL as JSON, with ``X-Telegram-Bot-Api-Secret-Token`` when a secret
was set. Anything but a 2xx answer, or no answer, keeps the update queued: it is retried after a
short back-off, and the failure is reported by getWebhookInfo like Telegram does. Producers need
no change: they queue updates the same way in both modes.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import re
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from .records import Described, JSONDict, Upload, bad_request, dump
from .world import World

#: Bot API method name → handler attribute.
METHODS = {
    "setWebhook": "_set_webhook",
    "deleteWebhook": "_delete_webhook",
    "getWebhookInfo": "_get_webhook_info",
}
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Webhook(World):
    """The webhook settings, its delivery task and the last delivery error."""

    def _init_webhook(self) -> None:
        self.webhook_secret: str | None = None
        self.webhook_max_connections = 40
        #: (unix time, message) of the latest failed delivery, as getWebhookInfo reports it.
        self.webhook_last_error: tuple[int, str] | None = None
        #: Seconds to wait after a first failed delivery; doubles up to ``webhook_retry_max``.
        self.webhook_retry_delay = 0.05
        self.webhook_retry_max = 1.0
        #: Seconds a receiver may take to answer one POST.
        self.webhook_timeout = 10.0
        #: Every delivery attempt: (update_id, HTTP status or 0 when there was no answer).
        self.webhook_attempts: list[tuple[int, int]] = []
        self._webhook_task: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ Bot API methods

    async def _set_webhook(self, params: JSONDict, files: dict[str, Upload]) -> Described:
        url = str(params.get("url") or "")
        if not url:
            return await self._delete_webhook(params, files)
        parts = urlsplit(url)
        # like a local Bot API server (--local), plain http is accepted besides https
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret not in (None, "") and not _SECRET.fullmatch(str(secret)):
            raise bad_request("secret token contains unallowed characters")
        max_connections = params.get("max_connections")
        await self.stop_webhook()
        same = url == self.webhook_url
        self.webhook_url = url
        self.webhook_secret = str(secret) if secret else None
        if max_connections is not None:
            with contextlib.suppress(TypeError, ValueError):  # Telegram ignores a bad value too
                self.webhook_max_connections = min(100, max(1, int(max_connections)))
        if isinstance(params.get("allowed_updates"), list):
            self.allowed_updates = list(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        if not same:
            self.webhook_last_error = None
        self._webhook_task = asyncio.get_running_loop().create_task(
            self._deliver_updates(), name="emulator-webhook"
        )
        self._wake()  # a long poll in progress ends with 409, as on Telegram
        return Described(True, "Webhook is already set" if same else "Webhook was set")

    async def _delete_webhook(self, params: JSONDict, files: dict[str, Upload]) -> Described:
        await self.stop_webhook()
        was_set = bool(self.webhook_url)
        self.webhook_url = ""
        self.webhook_secret = None
        self.webhook_last_error = None
        if params.get("drop_pending_updates"):
            self.pending_updates.clear()
        return Described(True, "Webhook was deleted" if was_set else "Webhook is already deleted")

    def _get_webhook_info(self, params: JSONDict, files: dict[str, Upload]) -> JSONDict:
        info: JSONDict = {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self.pending_updates),
        }
        if self.webhook_url:
            if self.webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self.webhook_last_error
            info["max_connections"] = self.webhook_max_connections
            host = urlsplit(self.webhook_url).hostname or ""
            with contextlib.suppress(ValueError):
                info["ip_address"] = str(ipaddress.ip_address(host))
        if self.allowed_updates:
            info["allowed_updates"] = list(self.allowed_updates)
        return info

    # ------------------------------------------------------------------ delivery

    async def stop_webhook(self) -> None:
        """Stop delivering (the webhook stays set); pending updates stay queued."""
        task, self._webhook_task = self._webhook_task, None
        if task is None or task is asyncio.current_task():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _deliver_updates(self) -> None:
        """POST queued updates to the webhook, oldest first, until cancelled."""
        delay = self.webhook_retry_delay
        async with httpx.AsyncClient(timeout=self.webhook_timeout) as client:
            while True:
                ready = self._ready_updates()
                if not ready:
                    await self._update_event.wait()
                    continue
                update = ready[0]
                error = await self._post(client, update)
                if error is None:
                    delay = self.webhook_retry_delay
                    self.pending_updates[:] = [
                        u for u in self.pending_updates if u["update_id"] != update["update_id"]
                    ]
                    continue
                self.webhook_last_error = (self.now(), error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.webhook_retry_max)

    async def _post(self, client: httpx.AsyncClient, update: JSONDict) -> str | None:
        """POST one update; None on a 2xx answer, else the error as getWebhookInfo words it."""
        headers = {"Content-Type": "application/json"}
        if self.webhook_secret:
            headers[SECRET_HEADER] = self.webhook_secret
        try:
            response = await client.post(self.webhook_url, content=dump(update), headers=headers)
        except httpx.TimeoutException:
            self.webhook_attempts.append((update["update_id"], 0))
            return "Read timeout expired"
        except httpx.HTTPError as exc:
            self.webhook_attempts.append((update["update_id"], 0))
            return "Connection refused" if isinstance(exc, httpx.ConnectError) else str(exc)
        self.webhook_attempts.append((update["update_id"], response.status_code))
        if 200 <= response.status_code < 300:
            return None
        try:
            phrase = HTTPStatus(response.status_code).phrase
        except ValueError:
            phrase = response.reason_phrase
        return f"Wrong response from the webhook: {response.status_code} {phrase}"
