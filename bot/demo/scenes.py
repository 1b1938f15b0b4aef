"""The scripted day played by `towerbot demo` (see script.py for the Script helpers)."""

from __future__ import annotations

from typing import Any

from bot.demo import activity as activity_scene
from bot.demo import cadres as cadre_scenes
from bot.demo import programmes
from bot.demo.script import DAY, Script
from bot.demo.worlds import SUPERUSER, YANSHAN_ORGS, found_tower


async def run(s: Script) -> None:
    world = await tower(s)
    menus(s)
    await people(s, world)
    await roles(s, world)
    await hours(s, world)
    await activity(s, world)
    await campaign(s, world)
    await cadre_scenes.review(s, world)
    await announce(s, world)
    await cadre_scenes.request(s, world)
    await cadre_scenes.cadres(s, world)
    await programmes.run(s, world)
    await figures(s, world)


async def tower(s: Script) -> dict[str, Any]:
    em = s.em
    s.scene("demo_scene_setup")
    lang = s.user_lang
    boss = em.add_user(
        "晓明", last_name="王", username="wang_xiaoming", user_id=SUPERUSER, language_code=lang
    )
    lina = em.add_user("李娜", username="lina_dabu", language_code=lang)
    hong = em.add_user("小红", username="xiaohong", language_code=lang)
    gang = em.add_user("小刚", username="xiaogang", language_code=lang)
    ming = em.add_user("小明", username="xiaoming", language_code=lang)
    li = em.add_user("小丽", username="xiaoli", language_code=lang)
    tom = em.add_user("Tom", username="tom_jd", language_code="en")
    fang = em.add_user("阿芳", username="afang", language_code=lang)
    root = em.add_group(
        "雁山区团委工作群",
        members=[boss["id"], lina["id"], tom["id"], fang["id"]],
        bot_status="left",
    )
    dabu = em.add_group(
        "大埠乡团委工作群",
        members=[boss["id"], lina["id"], hong["id"], ming["id"], li["id"]],
        bot_status="left",
    )
    village = em.add_group("大埠村团支部群", members=[lina["id"], hong["id"]], bot_status="left")
    jiedao = em.add_group(
        "雁山街道团工委群", members=[boss["id"], tom["id"]], type="supergroup", bot_status="left"
    )
    school = em.add_group("雁山中学团委群", members=[boss["id"], fang["id"]], bot_status="left")
    await s.say(boss, None, "/start")
    for chat in (root, dabu, village, jiedao, school):
        em.bot_added(chat, boss, status="administrator" if chat is dabu else "member")
    await s.settle()
    await found_tower(s.say, boss, root, YANSHAN_ORGS, binds=[(dabu, "yanshan.dabu")])
    await s.say(boss, dabu, "/org add yanshan.dabu.cun 大埠村团支部 village")
    for chat, code in (
        (village, "yanshan.dabu.cun"),
        (jiedao, "yanshan.jiedao"),
        (school, "yanshan.zhongxue"),
    ):
        em.text(boss, chat, f"/bind {code}")
    await s.settle()
    return {
        "boss": boss,
        "lina": lina,
        "hong": hong,
        "gang": gang,
        "ming": ming,
        "li": li,
        "tom": tom,
        "fang": fang,
        "root": root,
        "dabu": dabu,
        "village": village,
        "jiedao": jiedao,
        "school": school,
    }


def menus(s: Script) -> None:
    """What the "/" button shows each audience (set at start-up, per scope and language)."""
    lang = "en" if s.lang == "en" else None
    for chat_type, admin, where in (
        ("private", False, "demo_menu_private"),
        ("group", False, "demo_menu_group"),
        ("group", True, "demo_menu_admins"),
    ):
        shown = s.em.menu_for(chat_type, lang, admin=admin)
        commands = " ".join(f"/{c['command']}" for c in shown)
        print("  " + s.n("demo_menu", where=s.n(where), commands=commands))


async def people(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_register")
    await s.register(w["hong"], "join_yanshan-dabu", "陈小红", phone="8613800001111")
    await s.register(w["tom"], "join_yanshan-jiedao", "Tom Li")
    quiet = s.printed  # the others register the same way; keep the transcript short
    for user, link, name in (
        (w["boss"], "join_yanshan", "王晓明"),
        (w["lina"], "join_yanshan-dabu", "李娜"),
        (w["gang"], "join_yanshan-dabu", "赵刚"),
        (w["ming"], "join_yanshan-dabu", "周明"),
        (w["li"], "join_yanshan-dabu", "吴丽"),
        (w["fang"], "join_yanshan-zhongxue", "林芳"),
    ):
        await s.register(user, link, name, quiet=True)
    s.printed = max(s.printed, quiet)


async def roles(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_roles")
    em = s.em
    said = em.text(w["lina"], w["dabu"], "大家好，我是李娜。")["message"]
    s.show(w["lina"]["first_name"], w["dabu"]["id"], said["text"])
    await s.say(w["boss"], w["dabu"], "/role secretary", reply_to=said)
    await s.say(w["boss"], w["jiedao"], "/role secretary @tom_jd")
    await s.say(w["boss"], w["school"], "/role secretary @afang")
    await s.say(w["hong"], w["dabu"], "/org")
    await s.say(w["lina"], None, "/me")


async def hours(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_hours")
    hong, lina = w["hong"], w["lina"]
    await s.say(hong, None, f"/hours 2.5 {s.local(-2 * DAY)[:10]} 七彩四点半 作业辅导")
    await s.say(hong, None, f"/hours 8 {s.local(-1 * DAY)[:10]} 桂林马拉松 补给站志愿服务")
    await s.say(hong, None, "/hours 30 打扫青少年之家")
    await s.say(hong, None, "/hours 1 昨天 打扫青少年之家")  # a date as people say it
    await s.say(lina, None, "/pending")
    for _ in range(2):
        listing = s.last_with(lina["id"], "hrs:ok:")
        await s.press(lina, listing, s.data_of(listing, "hrs:ok:"))
    listing = s.last_with(lina["id"], "hrs:no:")
    await s.press(lina, listing, s.data_of(listing, "hrs:no:"))
    await s.say(lina, None, "日期填错了，请按实际日期重新登记")
    await s.say(hong, None, "/me")


async def activity(s: Script, w: dict[str, Any]) -> None:
    """Filled in by the activities feature (activity.py)."""
    await activity_scene.run(s, w)


async def campaign(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_campaign")
    em = s.em
    boss, lina, tom, fang = w["boss"], w["lina"], w["tom"], w["fang"]
    em.user_blocked_bot(fang)  # 阿芳 has blocked the bot: she is reminded in her org's chat
    await s.say(boss, w["root"], f"/deadline new 2026年度述职评议 | {s.local(4 * DAY, hour=18)}")
    await s.next_reminder()  # 3 days before
    await s.say(lina, None, "/submit")
    await s.say(lina, None, "2026年度述职报告：全年开展七彩四点半 48 次，志愿服务 1,260 小时……")
    await s.next_reminder()  # 1 day before
    await s.next_reminder()  # 2 hours before
    await s.next_reminder()  # due: the board goes to the district chat
    await s.say(tom, None, "/submit")
    mark = len(em.sent)
    s.show(tom["first_name"], tom["id"], s.n("demo_sends_file", name="述职报告-雁山街道.docx"))
    em.document(
        tom,
        None,
        "述职报告-雁山街道.docx",
        mime_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        file_size=48213,
    )
    await s.settle()
    del mark
    await s.next_reminder()  # overdue, day 1
    await s.next_reminder()  # overdue, day 2, and the escalation to the district chat
    await s.say(boss, w["root"], "/deadline status")


async def announce(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_announce")
    boss, hong, tom = w["boss"], w["hong"], w["tom"]
    await s.say(
        boss,
        w["root"],
        "/announce 关于开展“青春志愿行”寒假社会实践的通知：请各基层团组织于 12 月 10 日前报送参与名单。",
    )
    for user, chat in (
        (hong, w["dabu"]),
        (tom, w["jiedao"]),
        (tom, w["jiedao"]),
        (w["lina"], w["village"]),
    ):
        card = s.last_with(chat["id"], "ann:")
        await s.press(user, card, s.data_of(card, "ann:"))
    await s.say(boss, w["root"], "/announce status")


async def figures(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_stats")
    await s.say(w["lina"], w["dabu"], "/org")
    await s.say(w["boss"], w["root"], "/stats")
    await s.say(w["boss"], w["root"], "/chart hours")
    s.save_photo("chart-hours.png")
    await s.say(w["boss"], w["root"], "/chart tower")
    s.save_photo("chart-tower.png")
    # a workbook ready to forward upward: title row, frozen header, totals, no internal codes
    await s.say(w["boss"], w["root"], "/export hours")
    await s.settle()
    s.save_file("hours-export.xlsx", ".xlsx")
