"""The scripted day played by `towerbot demo` (see bot/demo.py for the Script helpers)."""

from __future__ import annotations

from typing import Any

from bot.demo import SUPERUSER, Script


async def run(s: Script) -> None:
    world = await tower(s)
    await people(s, world)
    await roles(s, world)


async def tower(s: Script) -> dict[str, Any]:
    em = s.em
    s.scene("demo_scene_setup")
    boss = em.add_user("晓明", last_name="王", username="wang_xiaoming", user_id=SUPERUSER,
                       language_code=s.user_lang)
    lina = em.add_user("李娜", username="lina_dabu", language_code=s.user_lang)
    hong = em.add_user("小红", username="xiaohong", language_code=s.user_lang)
    tom = em.add_user("Tom", username="tom_jd", language_code="en")
    fang = em.add_user("阿芳", username="afang", language_code=s.user_lang)
    root = em.add_group("雁山区团委工作群", members=[boss["id"], lina["id"]], bot_status="left")
    dabu = em.add_group("大埠乡团委工作群", members=[boss["id"], lina["id"], hong["id"]],
                        bot_status="left")
    jiedao = em.add_group("雁山街道团工委群", members=[boss["id"], tom["id"], fang["id"]],
                          type="supergroup", bot_status="left")
    await s.say(boss, None, "/start")
    for chat in (root, dabu, jiedao):
        em.bot_added(chat, boss, status="administrator" if chat is jiedao else "member")
    await s.settle()
    await s.say(boss, root, "/setup yanshan 雁山区团委")
    await s.say(boss, root, "/org add yanshan.dabu 大埠乡团委 township")
    await s.say(boss, root, "/org add yanshan.jiedao 雁山街道团工委 street")
    await s.say(boss, dabu, "/bind yanshan.dabu")
    await s.say(boss, jiedao, "/bind yanshan.jiedao")
    return dict(boss=boss, lina=lina, hong=hong, tom=tom, fang=fang, root=root, dabu=dabu,
                jiedao=jiedao)


async def people(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_register")
    await s.register(w["boss"], "join_yanshan", "王晓明")
    await s.register(w["lina"], "join_yanshan-dabu", "李娜", phone="8613800001111")
    await s.register(w["hong"], "join_yanshan-dabu", "陈小红")
    await s.register(w["tom"], "join_yanshan-jiedao", "Tom Li")


async def roles(s: Script, w: dict[str, Any]) -> None:
    s.scene("demo_scene_roles")
    said = s.em.text(w["lina"], w["dabu"], "大家好，我是李娜。")["message"]
    s.show(w["lina"]["first_name"], w["dabu"]["id"], said["text"])
    await s.say(w["boss"], w["dabu"], "/role secretary", reply_to=said)
    await s.say(w["hong"], w["dabu"], "/org")
    await s.say(w["lina"], None, "/me")
