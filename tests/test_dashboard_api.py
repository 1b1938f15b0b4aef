"""The dashboard's API (bot/web/dashboard.py) through the ASGI app, with real signed initData:
valid, expired, forged, tampered, another person's, a member without a role; our token
replayed after expiry and tampered with; the figures against /stats' own; /dashboard and the
/stats button; the emulator refusing web_app buttons in groups as Telegram does."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from telegram.error import BadRequest

from bot.demo.worlds import SUPERUSER
from bot.web import initdata
from bot.web.dashboard import dashboard_routes
from bot.web.server import build_web_app
from tests.conftest import Harness, start_harness
from tests.test_campaigns import OffsetClock
from tests.test_stats import root_view, seeded_world, world
from tests.test_webhook import hooked  # noqa: F401  (the webhook server, for the one-port test)

pytestmark = pytest.mark.usefixtures("engine")
WEB_URL = "https://towerbot.example.org"


@pytest.fixture
async def dtb(engine: str, tmp_path: Any) -> AsyncIterator[Harness]:
    """A harness with the dashboard configured and a clock the test can move on."""
    ctx, harness = await start_harness(tmp_path, clock=OffsetClock(), web_url=WEB_URL)
    try:
        yield harness
    finally:
        await ctx.__aexit__(None, None, None)


def client(tb: Harness) -> httpx.AsyncClient:
    app = build_web_app(dashboard_routes(tb.app))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


def signed(tb: Harness, user: dict, *, age: float = 0, token: str | None = None) -> str:
    """initData for `user` as Telegram's client hands it to the page, `age` seconds old."""
    fields = {k: user[k] for k in ("id", "first_name", "language_code") if k in user}
    now = tb.services.clock.time()
    return initdata.sign(
        fields, token or tb.em.token, auth_date=int(now - age), query_id="AAH-test"
    )


def tma(init: str) -> dict[str, str]:
    return {"Authorization": f"tma {init}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def session(http: httpx.AsyncClient, tb: Harness, user: dict) -> str:
    answer = await http.post("/dashboard/api/session", headers=tma(signed(tb, user)))
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


# --- initData and the token, as functions -----------------------------------------------------


def test_validate_follows_telegrams_recipe() -> None:
    """Recomputed by hand from Telegram's description, not with our own helper."""
    import hashlib
    import hmac
    from urllib.parse import urlencode

    token = "123456:ABC-test"
    fields = {"auth_date": "1700000000", "user": '{"id":42,"first_name":"A"}', "query_id": "Q"}
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    init = urlencode(fields)
    user = initdata.validate(init, token, now=1700000000 + 10)
    assert (user.user_id, user.first_name) == (42, "A")
    with pytest.raises(initdata.NotAuthentic, match="stale"):
        initdata.validate(init, token, now=1700000000 + 3601)
    assert initdata.validate(init, token, now=1700000000 + 3601, max_age=7200).user_id == 42
    with pytest.raises(initdata.NotAuthentic, match="hash"):
        initdata.validate(init, "123456:other", now=1700000000 + 10)
    with pytest.raises(initdata.NotAuthentic, match="hash"):  # the user swapped after signing
        initdata.validate(init.replace("%3A42", "%3A43"), token, now=1700000000 + 10)
    with pytest.raises(initdata.NotAuthentic):  # no hash at all
        initdata.validate(init.rsplit("&hash=", 1)[0], token, now=1700000000 + 10)


def test_token_expires_and_refuses_tampering() -> None:
    token = initdata.issue("1:bot", 42, "en", now=1000.0, since=990)
    assert initdata.check(token, "1:bot", now=1000.0 + 899) == initdata.Token(42, "en", 990)
    with pytest.raises(initdata.NotAuthentic, match="expired"):
        initdata.check(token, "1:bot", now=1000.0 + 900)
    with pytest.raises(initdata.NotAuthentic):  # another bot's key
        initdata.check(token, "2:bot", now=1000.0)
    payload, mac = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    longer = dict(body, e=body["e"] + 86400, u=43)
    forged = base64.urlsafe_b64encode(json.dumps(longer).encode()).rstrip(b"=").decode()
    # renewals end MAX_SESSION after the initData the session started from
    late = initdata.issue("1:bot", 42, "en", now=990 + initdata.MAX_SESSION - 60, since=990)
    with pytest.raises(initdata.NotAuthentic, match="expired"):
        initdata.check(late, "1:bot", now=990 + initdata.MAX_SESSION)
    for bad in (f"{forged}.{mac}", f"{payload}.{mac[:-1]}0", payload, "", f"{payload}."):
        with pytest.raises(initdata.NotAuthentic):
            initdata.check(bad, "1:bot", now=1000.0)


# --- through the ASGI app ---------------------------------------------------------------------


async def test_staff_sees_the_tower_and_the_same_figures_as_stats(dtb: Harness) -> None:
    tb = dtb
    t = await seeded_world(tb)
    root, view = await root_view(tb)
    async with client(tb) as http:
        answer = await http.post("/dashboard/api/session", headers=tma(signed(tb, t["boss"])))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["lang"] == "zh" and body["texts"]["title"] == "塔群看板"
        assert body["expires_in"] == 900 and "cookie" not in str(answer.headers).lower()
        token = body["token"]
        tree = (await http.get("/dashboard/api/tree", headers=bearer(token))).json()["rows"]
        by_code = {r["code"]: r for r in tree}
        assert set(by_code) == {"yanshan", "yanshan.dabu", "yanshan.jiedao"}
        assert by_code["yanshan"]["parent_id"] is None
        assert by_code["yanshan.dabu"]["parent_id"] == root.id
        # 街道's report-back is overdue: red; the district has no secretary: amber
        assert by_code["yanshan.jiedao"]["health"] == "red"
        assert by_code["yanshan"]["health"] == "amber"
        detail = (await http.get(f"/dashboard/api/org/{root.id}", headers=bearer(token))).json()
    assert detail["org"]["numbers"] == json.loads(json.dumps(view.total.numbers()))
    assert [c["code"] for c in detail["children"]] == [k.org.code for k in view.children]
    assert [c["numbers"]["hours_all"] for c in detail["children"]] == [
        k.numbers()["hours_all"] for k in view.children
    ]
    assert len(detail["months"]) == 6 and len(detail["hours_by_month"]) == len(view.children)
    # this month's approved hours per child; Tom's 5 h of last December only in its month
    dabu = detail["hours_by_month"][0]
    assert dabu[-1] == view.children[0].numbers()["hours_year"]
    titles = {c["title"]: c for c in detail["campaigns"]}
    assert titles["一季度述职"]["on_time"] == 1 and titles["一季度述职"]["missing"] == 1
    assert titles["二季度述职"]["not_due"] == 2
    assert detail["open"] == {"pending_hours": 1, "unacked": 0, "overdue": 1}
    # never a person's name or phone number
    everything = json.dumps([tree, detail], ensure_ascii=False)
    for name in ("王晓明", "李娜", "陈小红", "王小刚", "Tom Li", "小红"):
        assert name not in everything


async def test_initdata_expired_forged_tampered_or_missing_is_refused(dtb: Harness) -> None:
    tb = dtb
    t = await world(tb)
    boss = t["boss"]
    async with client(tb) as http:
        good = signed(tb, boss)
        cases = {
            "expired": signed(tb, boss, age=3601),
            "from the future": signed(tb, boss, age=-600),
            "forged (another bot's token)": signed(tb, boss, token="999:not-our-token"),
            "tampered (user swapped)": good.replace(str(boss["id"]), str(t["sec_a"]["id"])),
            "hash removed": good.rsplit("&hash=", 1)[0],
            "empty": "",
        }
        for why, init in cases.items():
            for path in ("/dashboard/api/session",):
                answer = await http.post(path, headers=tma(init))
                assert answer.status_code == 401, (why, answer.text)
            answer = await http.get("/dashboard/api/tree", headers=tma(init))
            assert answer.status_code == 401, why
        assert (await http.get("/dashboard/api/tree")).status_code == 401
        # a cookie is no way in
        assert (
            await http.get("/dashboard/api/tree", headers={"Cookie": "token=x; session=y"})
        ).status_code == 401
        # the real one works, also directly as initData
        assert (await http.get("/dashboard/api/tree", headers=tma(good))).status_code == 200


async def test_initdata_age_is_configurable(engine: str, tmp_path: Any) -> None:
    ctx, tb = await start_harness(
        tmp_path, clock=OffsetClock(), web_url=WEB_URL, web_auth_max_age="2h"
    )
    try:
        t = await world(tb)
        async with client(tb) as http:
            ok = await http.post(
                "/dashboard/api/session", headers=tma(signed(tb, t["boss"], age=5400))
            )
            assert ok.status_code == 200
            old = await http.post(
                "/dashboard/api/session", headers=tma(signed(tb, t["boss"], age=7300))
            )
            assert old.status_code == 401
    finally:
        await ctx.__aexit__(None, None, None)


async def test_roles_scope_the_data(dtb: Harness) -> None:
    """A member has no dashboard; a branch secretary sees the branch only; asking for another
    org by id is refused."""
    tb = dtb
    t = await world(tb)
    root = await tb.services.tower.org_by_code("yanshan")
    dabu = await tb.services.tower.org_by_code("yanshan.dabu")
    jiedao = await tb.services.tower.org_by_code("yanshan.jiedao")
    async with client(tb) as http:
        for who in ("member_a", "member_b", "outsider"):
            answer = await http.post("/dashboard/api/session", headers=tma(signed(tb, t[who])))
            assert answer.status_code == 403 and answer.json()["error"] == "err_dash_no_role"
            answer = await http.get("/dashboard/api/tree", headers=tma(signed(tb, t[who])))
            assert answer.status_code == 403
            answer = await http.get(
                f"/dashboard/api/org/{dabu.id}", headers=tma(signed(tb, t[who]))
            )
            assert answer.status_code == 403
        token = await session(http, tb, t["sec_a"])
        tree = (await http.get("/dashboard/api/tree", headers=bearer(token))).json()["rows"]
        assert [r["code"] for r in tree] == ["yanshan.dabu"] and tree[0]["parent_id"] is None
        assert (
            await http.get(f"/dashboard/api/org/{dabu.id}", headers=bearer(token))
        ).status_code == 200
        for other in (root.id, jiedao.id):
            answer = await http.get(f"/dashboard/api/org/{other}", headers=bearer(token))
            assert answer.status_code == 403 and answer.json()["error"] == "err_need_secretary"
        assert (
            await http.get("/dashboard/api/org/999999", headers=bearer(token))
        ).status_code == 403
        # 李娜's token, its user id changed to the superuser's: refused
        payload, mac = token.split(".")
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        swapped = (
            base64.urlsafe_b64encode(json.dumps(dict(body, u=SUPERUSER)).encode())
            .rstrip(b"=")
            .decode()
        )
        answer = await http.get("/dashboard/api/tree", headers=bearer(f"{swapped}.{mac}"))
        assert answer.status_code == 401


async def test_token_lives_15_minutes_and_is_renewed_while_open(dtb: Harness) -> None:
    tb = dtb
    t = await world(tb)
    clock = tb.services.clock
    async with client(tb) as http:
        token = await session(http, tb, t["boss"])
        clock.offset += 600
        renewed = await http.post("/dashboard/api/renew", headers=bearer(token))
        assert renewed.status_code == 200
        fresh = renewed.json()["token"]
        clock.offset += 301  # the first token is 15 min old: replaying it fails
        assert (await http.get("/dashboard/api/tree", headers=bearer(token))).status_code == 401
        assert (await http.post("/dashboard/api/renew", headers=bearer(token))).status_code == 401
        assert (await http.get("/dashboard/api/tree", headers=bearer(fresh))).status_code == 200
        # a token cannot start a session, initData cannot renew, a flipped bit is refused
        assert (await http.post("/dashboard/api/session", headers=bearer(fresh))).status_code == 401
        init = signed(tb, t["boss"])
        assert (await http.post("/dashboard/api/renew", headers=tma(init))).status_code == 401
        flipped = fresh[:-1] + ("0" if fresh[-1] != "0" else "1")
        assert (await http.get("/dashboard/api/tree", headers=bearer(flipped))).status_code == 401
        # initData is not a token and a token is not initData
        assert (await http.get("/dashboard/api/tree", headers=bearer(init))).status_code == 401
        assert (await http.get("/dashboard/api/tree", headers=tma(fresh))).status_code == 401
        # a role taken away closes the dashboard even with a valid token
        sec_token = await session(http, tb, t["sec_a"])
        async with tb.db.transaction() as tx:
            await tx.execute("DELETE FROM roles WHERE user_id = ?", (t["sec_a"]["id"],))
        tb.services.access.cache.clear()
        answer = await http.get("/dashboard/api/tree", headers=bearer(sec_token))
        assert answer.status_code == 403


async def test_export_sends_the_workbook_privately_once(dtb: Harness) -> None:
    tb = dtb
    t = await world(tb)
    dabu = await tb.services.tower.org_by_code("yanshan.dabu")
    async with client(tb) as http:
        token = await session(http, tb, t["sec_a"])
        for _ in range(2):  # a double tap
            answer = await http.post(
                "/dashboard/api/export",
                headers=bearer(token),
                json={"org_id": dabu.id, "kind": "members"},
            )
            assert answer.status_code == 200 and answer.json()["ok"]
        bad = await http.post(
            "/dashboard/api/export", headers=bearer(token), json={"org_id": dabu.id, "kind": "x"}
        )
        assert bad.status_code == 400
        root = await tb.services.tower.org_by_code("yanshan")
        refused = await http.post(
            "/dashboard/api/export",
            headers=bearer(token),
            json={"org_id": root.id, "kind": "members"},
        )
        assert refused.status_code == 403
    await tb.drain()
    docs = [d for d in tb.em.documents if d["chat_id"] == t["sec_a"]["id"]]
    assert [d["file_name"].split("-")[0] for d in docs] == ["members"]


async def test_page_and_files_are_served_gzipped(dtb: Harness) -> None:
    async with client(dtb) as http:
        page = await http.get("/dashboard/", headers={"Accept-Encoding": "gzip"})
        assert page.status_code == 200 and "telegram-web-app.js" in page.text
        assert page.headers["content-encoding"] == "gzip"
        assert "frame-ancestors" not in page.headers["content-security-policy"]
        script = await http.get("/dashboard/static/app.js", headers={"Accept-Encoding": "gzip"})
        assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
        assert (await http.get("/dashboard/static/../dashboard.py")).status_code == 404


# --- /dashboard and the /stats button ---------------------------------------------------------


async def test_dashboard_command(dtb: Harness) -> None:
    tb = dtb
    t = await world(tb)
    sent = await tb.send(t["boss"], None, "/dashboard")
    markup = sent[-1].reply_markup["inline_keyboard"]
    assert markup[0][0]["web_app"] == {"url": WEB_URL + "/dashboard/"}
    # in a group: the private-only answer with a deep link that starts /dashboard in private
    sent = await tb.send(t["boss"], t["root"], "/dashboard")
    button = sent[-1].reply_markup["inline_keyboard"][0][0]
    assert button["url"].endswith("?start=cmd_dashboard") and "web_app" not in button
    sent = await tb.send(t["boss"], None, "/start cmd_dashboard")
    assert "web_app" in sent[-1].reply_markup["inline_keyboard"][0][0]
    # a member: refused, no button
    sent = await tb.send(t["member_a"], None, "/dashboard")
    assert sent[-1].text == "看板只对书记和团干部开放。" and not sent[-1].reply_markup
    # /stats carries "打开看板"
    sent = await tb.send(t["boss"], t["root"], "/stats")
    button = sent[-1].reply_markup["inline_keyboard"][0][0]
    assert button["text"] == "打开看板" and button["url"].endswith("?start=cmd_dashboard")


async def test_dashboard_not_configured(tb: Harness) -> None:
    t = await world(tb)
    sent = await tb.send(t["boss"], None, "/dashboard")
    assert "TOWERBOT_WEB_URL" in sent[-1].text and not sent[-1].reply_markup
    sent = await tb.send(t["boss"], t["root"], "/stats")
    assert not sent[-1].reply_markup  # no button that leads nowhere


async def test_emulator_takes_web_app_buttons_in_private_only(tb: Harness) -> None:
    t = await world(tb)
    markup = InlineKeyboardMarkup(
        [[InlineKeyboardButton("open", web_app=WebAppInfo(url=WEB_URL + "/dashboard/"))]]
    )
    await tb.app.bot.send_message(t["boss"]["id"], "private", reply_markup=markup)
    with pytest.raises(BadRequest, match=r"(?i)button_type_invalid"):
        await tb.app.bot.send_message(t["root"]["id"], "group", reply_markup=markup)
    plain = InlineKeyboardMarkup(
        [[InlineKeyboardButton("open", web_app=WebAppInfo(url="http://insecure.example/"))]]
    )
    with pytest.raises(BadRequest, match=r"(?i)button_url_invalid"):
        await tb.app.bot.send_message(t["boss"]["id"], "private", reply_markup=plain)


async def test_polling_deployments_serve_the_dashboard_alone(dtb: Harness) -> None:
    """`towerbot run` without a webhook: attach() starts the web server after start-up and
    stops it with the bot."""
    import socket

    from bot.web.dashboard_serve import attach

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = dtb.settings.model_copy(update={"webhook_listen": "127.0.0.1", "web_port": port})
    attach(dtb.app, settings)
    await dtb.app.post_init(dtb.app)  # the bot's start-up has run already: the server starts
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            health = await http.get("/healthz")
            assert health.json() == {"ok": True, "mode": "polling"}
            page = await http.get("/dashboard/")
            assert page.status_code == 200 and "app.js" in page.text
            assert (await http.get("/dashboard/api/tree")).status_code == 401
    finally:
        await dtb.app.post_stop(dtb.app)
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            await http.get("/healthz")


async def test_webhook_mode_serves_the_dashboard_on_the_webhook_port(
    hooked: Any,  # noqa: F811
) -> None:
    """One port: the webhook, /healthz and the Mini App (gzipped)."""
    page = await hooked.client.get("/dashboard/", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert (await hooked.client.get("/dashboard/api/tree")).status_code == 401
    assert (await hooked.client.get("/healthz")).status_code == 200
