"""/setup, /bind, /unbind, /org, /org add, /role and the chat lifecycle, through the emulator."""

from __future__ import annotations

import pytest

from storage import chats as chat_repo
from storage import orgs as org_repo
from tests.conftest import SUPERUSER_ID, Harness
from tests.helpers import replies


async def org_count(tb: Harness) -> int:
    return await org_repo.count(tb.db.reader)


async def test_setup_needs_superuser_and_group(tb: Harness) -> None:
    em = tb.em
    boss = em.add_user("晓明", user_id=SUPERUSER_ID)
    other = em.add_user("路人")
    group = em.add_group("区团委群", members=[boss["id"], other["id"]])
    refused = await tb.send(other, group, "/setup yanshan 雁山区团委")
    assert "系统管理员" in refused[0].text and await org_count(tb) == 0
    private = await tb.send(boss, None, "/setup yanshan 雁山区团委")
    assert "群聊" in private[0].text and await org_count(tb) == 0
    usage = await tb.send(boss, group, "/setup yanshan")
    assert "用法" in usage[0].text and await org_count(tb) == 0
    bad = await tb.send(boss, group, "/setup Yan$han 雁山")
    assert "组织代码" in bad[0].text and await org_count(tb) == 0
    done = await tb.send(boss, group, "/setup yanshan 雁山区团委")
    assert "雁山区团委" in done[0].text
    again = await tb.send(boss, group, "/setup other 另一个")
    assert "已经存在" in again[0].text and await org_count(tb) == 1


async def test_org_add_and_duplicates(tower: dict, tb: Harness) -> None:
    boss, root = tower["boss"], tower["root"]
    before = await org_count(tb)
    dup = await tb.send(boss, root, "/org add yanshan.dabu 重复")
    assert "已被使用" in dup[0].text
    usage = await tb.send(boss, root, "/org add onlycode")
    assert "用法" in usage[0].text
    member = await tb.send(tower["member_a"], root, "/org add yanshan.x 新组织")
    assert "团干部" in member[0].text
    sec = await tb.send(tower["sec_a"], tower["chat_a"], "/org add yanshan.dabu.c1 一村")
    assert "团干部" in sec[0].text
    assert await org_count(tb) == before
    ok = await tb.send(boss, tower["chat_a"], "/org add yanshan.dabu.c1 大埠一村团支部 village")
    assert "大埠一村团支部" in ok[0].text and "join_yanshan-dabu-c1" in ok[0].text
    child = await org_repo.by_code(tb.db.reader, "yanshan.dabu.c1")
    parent = await org_repo.by_code(tb.db.reader, "yanshan.dabu")
    assert child.parent_id == parent.id and child.kind == "village"
    assert child.path.startswith(parent.path)


async def test_bind_rules(tower: dict, tb: Harness) -> None:
    em, boss = tb.em, tower["boss"]
    new_chat = em.add_group("另一个群", members=[boss["id"], tower["sec_a"]["id"]])
    await replies(
        tb,
        boss,
        new_chat,
        ("/bind yanshan.dabu", "已绑定群"),  # taken
        ("/bind nosuch", "找不到"),
        ("/bind a b", "用法"),
    )
    await replies(tb, tower["sec_a"], tower["chat_a"], ("/unbind", "团干部"))  # by a secretary
    await replies(tb, boss, None, ("/bind yanshan.dabu", "群聊"))  # in private
    assert (await chat_repo.of_org(tb.db.reader, 2)).id == tower["chat_a"]["id"]
    await tb.send(boss, tower["chat_a"], "/unbind")
    assert (await chat_repo.get(tb.db.reader, tower["chat_a"]["id"])).org_id is None
    moved = await tb.send(boss, new_chat, "/bind yanshan.dabu")
    assert "已绑定到" in moved[0].text
    again = await tb.send(boss, new_chat, "/bind yanshan.dabu")
    assert "已经绑定" in again[0].text
    unbound = await tb.send(boss, tower["chat_a"], "/org")
    assert "尚未绑定" in unbound[0].text


async def test_org_view_shows_display_names_only(tower: dict, tb: Harness) -> None:
    sent = await tb.send(tower["member_a"], tower["chat_a"], "/org")
    text = sent[0].text
    assert "大埠乡团委" in text and "雁山区团委" in text and "李娜" in text
    assert "陈小红" not in text  # a real name never reaches a group
    root_view = (await tb.send(tower["boss"], tower["root"], "/org"))[0].text
    assert "大埠乡团委工作群" in root_view and "群 3/3（100%）" in root_view
    assert "书记配备 1/3（33%）" in root_view


async def test_role_assignment(tower: dict, tb: Harness) -> None:
    em, boss, chat_b = tb.em, tower["boss"], tower["chat_b"]
    said = em.text(tower["member_b"], chat_b, "hello")["message"]
    by_member = await tb.send(tower["member_a"], chat_b, "/role staff", reply_to=said)
    assert "团干部" in by_member[0].text
    no_target = await tb.send(boss, chat_b, "/role secretary")
    assert "用法" in no_target[0].text
    bad_word = await tb.send(boss, chat_b, "/role king", reply_to=said)
    assert "secretary" in bad_word[0].text
    stranger = em.text(tower["outsider"], chat_b, "hi")["message"]
    unregistered = await tb.send(boss, chat_b, "/role secretary", reply_to=stranger)
    assert "尚未注册" in unregistered[0].text
    done = await tb.send(boss, chat_b, "/role secretary @tom_b")
    assert "书记" in done[0].text and "Tom Li" not in done[0].text
    org = await org_repo.by_code(tb.db.reader, "yanshan.jiedao")
    assert await tb.services.access.role_at(tower["member_b"]["id"], org) == "secretary"
    # roles reach down the subtree, not up
    root = await org_repo.by_code(tb.db.reader, "yanshan")
    assert await tb.services.access.role_at(tower["member_b"]["id"], root) is None
    removed = await tb.send(boss, chat_b, "/role member", reply_to=said)
    assert "取消" in removed[0].text
    assert await tb.services.access.role_at(tower["member_b"]["id"], org) is None


async def test_staff_role_reaches_down(tower: dict, tb: Harness) -> None:
    em, boss = tb.em, tower["boss"]
    said = em.text(tower["member_a"], tower["root"], "hi")["message"]
    await tb.send(boss, tower["root"], "/role staff", reply_to=said)
    made = await tb.send(tower["member_a"], tower["chat_b"], "/org add yanshan.jiedao.s1 一社区")
    assert "一社区" in made[0].text


async def test_bot_removed_and_readded(tower: dict, tb: Harness) -> None:
    em, chat_a = tb.em, tower["chat_a"]
    await tb.deliver(em.bot_removed(chat_a, tower["boss"]))
    stored = await chat_repo.get(tb.db.reader, chat_a["id"])
    assert not stored.active and stored.org_id is not None
    view = (await tb.send(tower["boss"], tower["root"], "/org"))[0].text
    assert "机器人已被移出" in view and "群 2/3" in view
    await tb.deliver(em.bot_added(chat_a, tower["boss"], status="administrator"))
    stored = await chat_repo.get(tb.db.reader, chat_a["id"])
    assert stored.active and stored.is_admin


async def test_group_migration_moves_references(tower: dict, tb: Harness) -> None:
    em, chat_a = tb.em, tower["chat_a"]
    old_id = chat_a["id"]
    new_chat = em.migrate(chat_a)
    for update in list(em.pending_updates[-2:]):
        await tb.deliver(update)
    assert await chat_repo.get(tb.db.reader, old_id) is None
    moved = await chat_repo.get(tb.db.reader, new_chat["id"])
    assert moved.type == "supergroup" and moved.org_id is not None
    view = await tb.send(tower["member_a"], new_chat, "/org")
    assert "大埠乡团委" in view[0].text


async def test_title_change(tower: dict, tb: Harness) -> None:
    await tb.deliver(tb.em.title(tower["chat_a"], "大埠乡团委（新）", tower["boss"]))
    stored = await chat_repo.get(tb.db.reader, tower["chat_a"]["id"])
    assert stored.title == "大埠乡团委（新）"


@pytest.mark.parametrize("command", ["/setup a b", "/bind x", "/unbind", "/org", "/role staff"])
async def test_group_commands_refused_in_private(tb: Harness, command: str) -> None:
    user = tb.em.add_user("小李")
    sent = await tb.send(user, None, command)
    assert len(sent) == 1 and "群聊" in sent[0].text


def four_orgs(**root: str) -> dict:
    """A new tree of four orgs: 雁山区团委 (yanshan, with `root`'s fields) over 甲 (over 甲一)
    and 乙."""
    return {
        "code": "yanshan",
        "name": "雁山区团委",
        **root,
        "children": [
            {
                "code": "yanshan.a",
                "name": "甲",
                "children": [{"code": "yanshan.a.1", "name": "甲一"}],
            },
            {"code": "yanshan.b", "name": "乙"},
        ],
    }


async def test_org_import_is_idempotent(tb: Harness) -> None:
    tree = four_orgs(kind="district")
    first = await tb.services.tower.import_tree(tree)
    assert first.created == 4
    second = await tb.services.tower.import_tree(tree)
    assert (second.created, second.updated, second.unchanged) == (0, 0, 4)
    tree["children"][1]["name"] = "乙（改）"
    third = await tb.services.tower.import_tree(tree)
    assert (third.created, third.updated) == (0, 1)
    assert await org_count(tb) == 4


async def test_org_import_reports_progress_per_org(tb: Harness) -> None:
    from bot.domain.tower import count_tree

    tree = four_orgs()
    steps: list[int] = []
    await tb.services.tower.import_tree(tree, progress=steps.append)
    assert steps == [1, 1, 1, 1] and count_tree(tree) == 4
