"""TowerBot settings: environment variables (prefix TOWERBOT_) or a .env file."""

from __future__ import annotations

import importlib.util
import re
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
#: Telegram allows 1-256 of these characters; we ask for 16 or more so it cannot be guessed
MIN_SECRET = 16
_SECRET = re.compile(rf"[A-Za-z0-9_-]{{{MIN_SECRET},256}}")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_PROXY_SCHEMES = ("http", "https", "socks4", "socks5", "socks5h")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """Parse '24h', '90m', '7d', '30s' into a timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like 24h, 90m or 7d")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def _split(value: object) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)):
        return [str(part).strip() for part in value]
    raise ValueError("expected a comma-separated list")


class Settings(BaseSettings):
    """Every setting the spec lists; see README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="TOWERBOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    token: SecretStr | None = None
    db: str = "towerbot.sqlite3"
    timezone: str = "Asia/Shanghai"
    language: str = "zh"
    superusers: Annotated[list[int], NoDecode] = Field(default_factory=list)
    api_base_url: str | None = None
    rate: float = Field(25.0, gt=0, le=1000)
    activity_reminders: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [timedelta(hours=24), timedelta(hours=1)]
    )
    campaign_reminders: Annotated[list[timedelta], NoDecode] = Field(
        default_factory=lambda: [
            timedelta(days=7),
            timedelta(days=3),
            timedelta(days=1),
            timedelta(hours=2),
        ]
    )
    overdue_days: int = Field(7, ge=0, le=365)
    star_thresholds: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: [100.0, 300.0, 600.0, 1000.0, 1500.0]
    )
    chat_daily_budget: int = Field(10, ge=1, le=1000)
    #: days a sent message keeps its payload (text, documents: right after delivery)
    retention_days: int = Field(30, ge=0, le=3650)
    #: updates handled at once (one at a time per chat); Telegram's round trips make >1 matter
    concurrency: int = Field(8, ge=1, le=256)
    flood_limit: int = Field(20, ge=1, le=10000)
    flood_window: float = Field(30.0, gt=0, le=3600)
    #: seconds during which a group gets at most one welcome (later newcomers wait and are
    #: listed together in the next one); 0 welcomes every join at once
    welcome_window: float = Field(300.0, ge=0, le=86400)
    #: chats that did not acknowledge an announcement after this long get one reminder
    announce_ack_reminder: timedelta = timedelta(hours=24)
    #: a request upward (请示) still undecided after this long is reminded to the staff once
    #: (0s: never)
    request_reminder: timedelta = timedelta(hours=48)
    #: reviewers who have not scored every report this long after a review opened get one
    #: reminder (述职评议)
    review_reminder: timedelta = timedelta(hours=24)
    webhook_url: str | None = None
    #: seconds an instance holds the outbox sender's lease without renewing it (renewed every
    #: third of it); after a crash a standby instance takes over within this time
    lease_seconds: float = Field(15.0, ge=1, le=600)
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(8443, ge=1, le=65535)
    #: required with webhook_url: requests without it are refused (fail closed)
    webhook_secret: SecretStr | None = Field(None, validate_default=True)
    #: what `towerbot run` logs: INFO is one line per update, start-up, shutdown, warnings;
    #: DEBUG adds the libraries' chatter (APScheduler jobs, HTTP requests, telegram.ext)
    log_level: str = "INFO"
    #: the public https address of the bot's web server: the Mini App (dashboard) is served
    #: under <web_url>/dashboard/ (webhook mode: on the webhook's port; polling: on web_port)
    web_url: str | None = None
    web_port: int = Field(8080, ge=1, le=65535)
    #: how old Telegram's initData may be when the dashboard opens (auth_date)
    web_auth_max_age: timedelta = timedelta(hours=1)
    #: http(s) proxy for every request to Telegram; socks5:// needs `pip install httpx[socks]`
    proxy: str | None = None

    @field_validator("superusers", mode="before")
    @classmethod
    def _superusers(cls, value: object) -> list[int]:
        try:
            return [int(part) for part in _split(value)]
        except ValueError as exc:
            raise ValueError("must be Telegram user ids separated by commas") from exc

    @field_validator("activity_reminders", "campaign_reminders", mode="before")
    @classmethod
    def _durations(cls, value: object) -> list[timedelta]:
        if isinstance(value, list) and all(isinstance(v, timedelta) for v in value):
            return value
        return sorted((parse_duration(part) for part in _split(value)), reverse=True)

    @field_validator(
        "announce_ack_reminder",
        "web_auth_max_age",
        "request_reminder",
        "review_reminder",
        mode="before",
    )
    @classmethod
    def _ack_reminder(cls, value: object) -> timedelta:
        return value if isinstance(value, timedelta) else parse_duration(str(value))

    @field_validator("star_thresholds", mode="before")
    @classmethod
    def _stars(cls, value: object) -> list[float]:
        try:
            numbers = [float(part) for part in _split(value)]
        except ValueError as exc:
            raise ValueError("must be hour numbers separated by commas") from exc
        if not numbers or numbers != sorted(set(numbers)) or numbers[0] <= 0:
            raise ValueError("must be increasing positive hour numbers, e.g. 100,300,600")
        return numbers

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("language")
    @classmethod
    def _lang(cls, value: str) -> str:
        if value not in ("zh", "en"):
            raise ValueError("must be zh or en")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            if info.data.get("webhook_url"):
                raise ValueError(
                    "required when TOWERBOT_WEBHOOK_URL is set (e.g. openssl rand "
                    "-hex 32); without it anyone could post updates"
                )
            return None
        if not _SECRET.fullmatch(value.get_secret_value()):
            raise ValueError(f"must be {MIN_SECRET}-256 characters of A-Z a-z 0-9 _ -")
        return value

    @field_validator("webhook_url", "web_url")
    @classmethod
    def _webhook_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value:
            return None
        # plain http only towards a local Bot API server (api_base_url), which allows it
        if not (
            value.startswith("https://")
            or (info.data.get("api_base_url") and value.startswith("http://"))
        ):
            raise ValueError("must start with https://")
        return value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        if value.upper() not in _LOG_LEVELS:
            raise ValueError("must be one of " + ", ".join(_LOG_LEVELS))
        return value.upper()

    @field_validator("proxy")
    @classmethod
    def _proxy(cls, value: str | None) -> str | None:
        if not value:
            return None
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in _PROXY_SCHEMES:
            raise ValueError("must be a URL like http://host:port (or socks5://host:port)")
        if scheme.startswith("socks") and importlib.util.find_spec("socksio") is None:
            raise ValueError("a socks proxy needs the extra: pip install 'httpx[socks]'")
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


def load_settings(**overrides: object) -> Settings:
    """Build Settings, turning validation errors into one clear line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "TOWERBOT_" + str(first["loc"][0]).upper() if first["loc"] else "settings"
        raise SettingsError(f"{name}: {first['msg']}") from None
