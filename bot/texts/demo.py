"""Narration of `towerbot demo` (the bot's own texts come from the other catalogues)."""

ZH = {
    "demo_title": "塔群助手演示：雁山区的一天（本地模拟 Telegram，无需令牌）",
    "demo_private": "私聊·{name}",
    "demo_presses": "点击按钮「{label}」",
    "demo_shares": "分享了联系方式",
    "demo_sends_file": "发送文件 {name}",
    "demo_scene_setup": "一、搭建塔群：区团委群和各级基层组织的群",
    "demo_scene_register": "二、团员青年通过注册链接登记（其余几位同样操作，略）",
    "demo_scene_roles": "三、任命书记，查看组织",
    "demo_scene_hours": "四、志愿服务时长：登记、审核、驳回、星级",
    "demo_scene_activity": "五、活动报名：满员、候补、递补、签到、结束",
    "demo_scene_campaign": "六、述职任务：快进时钟上的提醒、按时与逾期提交、上报",
    "demo_scene_announce": "七、通知层层下达与“收到”确认",
    "demo_scene_stats": "八、统计与图表",
    "demo_wait": "⏩（时钟快进 {time}……）",
    "demo_file": "文件已写入：{path}",
    "demo_done": "演示结束，用时 {seconds} 秒。数据库：{db}",
}

EN = {
    "demo_title": "TowerBot demo: a day in Yanshan district (Telegram emulated locally, no token)",
    "demo_private": "private·{name}",
    "demo_presses": "presses the button [{label}]",
    "demo_shares": "shares their contact",
    "demo_sends_file": "sends the file {name}",
    "demo_scene_setup": "1. Building the tower: the district chat and the chats of the orgs below",
    "demo_scene_register": "2. Young members register through invitation links (the others do the same, not shown)",
    "demo_scene_roles": "3. A secretary is appointed; the org at a glance",
    "demo_scene_hours": "4. Volunteer hours: logged, approved, rejected, a star reached",
    "demo_scene_activity": "5. An activity fills up: waitlist, promotion, check-in, close",
    "demo_scene_campaign": "6. A report-back campaign on a fast clock: reminders, on-time and late, escalation",
    "demo_scene_announce": "7. An announcement down the tower, with acknowledgements",
    "demo_scene_stats": "8. Figures and a chart",
    "demo_wait": "⏩ (the clock jumps {time} ahead…)",
    "demo_file": "File written: {path}",
    "demo_done": "Demo finished in {seconds} s. Database: {db}",
}
