"""Texts of the under-14 step and guardian consent."""

from __future__ import annotations

ZH: dict[str, str] = {
    "reg_ask_age": "开始注册前请先回答：你未满 14 周岁吗？\n（按照《个人信息保护法》，未满 14 周岁须先取得监护人同意，我们才会保存你的姓名等信息。）",
    "reg_btn_under14": "未满 14 周岁",
    "err_answer_age": "请先点上面的按钮：你是否未满 14 周岁？（发送 /register 重新开始）",
    "reg_btn_over14": "已满 14 周岁",
    "reg_guardian_link": "你未满 14 周岁，需要监护人（父母等）同意后才能填写姓名。\n请把下面的链接转发给你的监护人，由他们用自己的 Telegram 账号打开并同意（{days} 天内有效，只能使用一次）：\n{link}\n或者把纸质同意书交给你所在组织的书记，由书记在群里发送 <code>/consent {token}</code> 登记。\n同意之后我们会通知你继续注册。",
    "err_minor_wait_guardian": "还需要监护人同意：请把注册时收到的链接转发给监护人，或请书记登记纸质同意书。同意之前不能填写姓名和手机号。发送 /register 可以获取新链接。",
    "guard_someone": "一位未成年人",
    "guard_ask": "<b>监护人同意</b>\nTelegram 用户“{name}”正在注册加入“{org}”，并请你作为监护人同意。\n同意后，TA 将可以填写姓名和（可选的）手机号，团组织用这些信息登记志愿服务时长、活动报名和统计；群聊中只显示 TA 的 Telegram 昵称。TA 或你可以随时用 /forgetme 删除个人信息。\n如果你是 TA 的监护人并同意，请点下面的按钮。",
    "guard_btn_agree": "我是监护人，同意",
    "guard_done": "谢谢，已记录你的同意。我们已通知 TA 继续注册。",
    "guard_minor_go_on": "你的监护人已同意。请继续注册：输入你的真实姓名（发送 /cancel 可退出）。",
    "guard_paper_done": "已登记纸质监护人同意书，并已私信通知本人继续注册。",
    "err_guard_invalid": "这个监护人链接无效。请让孩子重新发送 /register 获取新链接。",
    "err_guard_self": "监护人链接要由监护人用自己的 Telegram 账号打开，不能由本人打开。请把链接转发给你的监护人。",
    "err_guard_used": "这个监护人链接已经用过了。",
    "err_guard_expired": "这个监护人链接已过期。请让孩子重新发送 /register 获取新链接。",
    "err_guard_no_request": "这个人没有等待监护人同意的注册。",
    "usage_consent": "用法：回复未成年人的消息发送 /consent，或发送 /consent &lt;链接或令牌&gt;，登记纸质监护人同意书。",
    "help_consent": "<b>未成年人（书记，群内）：</b>\n/consent 回复未满 14 周岁成员的消息（或 /consent &lt;令牌&gt;）登记纸质监护人同意书",
}

EN: dict[str, str] = {
    "reg_ask_age": "Before you register: are you under 14?\n(Under China's Personal Information Protection Law, we keep nothing personal about a child under 14 until a parent or guardian has agreed.)",
    "reg_btn_under14": "I am under 14",
    "err_answer_age": "Please first answer with the buttons above: are you under 14? (Send /register to start again.)",
    "reg_btn_over14": "I am 14 or older",
    "reg_guardian_link": "As you are under 14, a parent or guardian must agree before you give your name.\nForward this link to your guardian; they open it from their own Telegram account and agree (valid for {days} days, works once):\n{link}\nOr hand a signed paper consent form to your org's secretary, who records it in the group with <code>/consent {token}</code>.\nWe will tell you when you can go on.",
    "err_minor_wait_guardian": "A guardian's consent is still needed: forward the link you were given to your guardian, or ask your secretary to record a paper consent. Until then you cannot give your name or phone. Send /register for a new link.",
    "guard_someone": "a young person",
    "guard_ask": '<b>Guardian\'s consent</b>\nThe Telegram user "{name}" is registering with "{org}" and asks you, as their guardian, to agree.\nOnce you agree they can give their name and (optionally) their phone number, which the league org uses to record volunteer hours, activity sign-ups and figures; group chats only show their Telegram name. They or you can delete the data at any time with /forgetme.\nIf you are their guardian and agree, press the button below.',
    "guard_btn_agree": "I am the guardian and agree",
    "guard_done": "Thank you, your consent is recorded. We have told them they can go on.",
    "guard_minor_go_on": "Your guardian has agreed. Please go on registering: type your real name (send /cancel to leave).",
    "guard_paper_done": "Paper consent recorded; the person has been told privately that they can go on.",
    "err_guard_invalid": "This guardian link is not valid. Ask the child to send /register for a new one.",
    "err_guard_self": "A guardian link must be opened by the guardian from their own Telegram account, not by you. Please forward it to your guardian.",
    "err_guard_used": "This guardian link has already been used.",
    "err_guard_expired": "This guardian link has expired. Ask the child to send /register for a new one.",
    "err_guard_no_request": "This person has no registration waiting for a guardian's consent.",
    "usage_consent": "Usage: reply to the minor's message with /consent, or send /consent &lt;link or token&gt;, to record a paper consent form.",
    "help_consent": "<b>Minors (secretary, in a group):</b>\n/consent as a reply to an under-14 member's message (or /consent &lt;token&gt;) records a paper guardian consent",
}
