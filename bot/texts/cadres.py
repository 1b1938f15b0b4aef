"""Texts of /cadres (posts, holders, terms), term reminders, the training record and its export."""

ZH = {
    "usage_cadres": "用法（团干部，群内）：\n"
    "/cadres 本组织及下级的团干部名册\n"
    "/cadres add 书记|副书记|委员 [数量] 设立岗位\n"
    "/cadres appoint &lt;岗位&gt; [@用户名] [专职|挂职|兼职] [起始日期 截止日期] 任命（或回复对方消息）\n"
    "/cadres mode &lt;岗位&gt; 专职|挂职|兼职\n"
    "/cadres term &lt;岗位&gt; &lt;起始日期&gt; &lt;截止日期&gt;\n"
    "/cadres vacate &lt;岗位&gt; 免去（岗位空缺）\n"
    "/cadres remove &lt;岗位&gt; 撤销空缺岗位\n"
    "&lt;岗位&gt; 写编号（如 #12）或本组织的职务（如 副书记）。\n"
    "例如：/cadres appoint 书记 @lina_daxu 兼职 2026-01-01 2028-12-31",
    "err_cadre_position": "“{got}”不是职务。请写 书记、副书记 或 委员。",
    "err_cadre_mode": "“{got}”不是任职方式。请写 专职、挂职 或 兼职。",
    "err_cadre_date": "看不懂日期“{got}”。请写成 2026-01-01。",
    "err_cadre_term_order": "任期的截止日期必须晚于起始日期。",
    "err_cadre_term_long": "任期不能超过 {years} 年。",
    "err_cadre_term_two": "任期要写两个日期：起始日期和截止日期，例如 2026-01-01 2028-12-31。",
    "err_cadre_count": "数量请写 1 到 {most} 之间的整数。",
    "err_cadre_self": "不能任命或免去自己。",
    "err_cadre_already": "对方已担任岗位 #{post}。修改任职方式或任期请用 /cadres mode 或 /cadres term。",
    "err_cadre_post_unknown": "本组织及下级没有岗位 #{post}。发送 /cadres 查看岗位编号。",
    "err_cadre_no_position": "“{org}”没有设立这个职务。先用 /cadres add 设立。",
    "err_cadre_which": "有多个这样的岗位，请写编号：{ids}",
    "err_cadre_vacant": "岗位 #{post} 目前空缺。",
    "err_cadre_remove_held": "岗位 #{post} 有人任职，请先 /cadres vacate {post}。",
    "err_cadre_last_post": "“{org}”至少要保留一个岗位。",
    "err_cadre_who": "请回复要任命的人的消息，或写上对方的 @用户名。",
    "cadre_pos_secretary": "书记",
    "cadre_pos_deputy": "副书记",
    "cadre_pos_committee": "委员",
    "cadre_mode_full": "专职",
    "cadre_mode_seconded": "挂职",
    "cadre_mode_part": "兼职",
    "cadre_mode_none": "任职方式未填",
    "cadre_with_term": "{mode}，任期 {start} 至 {end}",
    "cadre_without_term": "{mode}，任期未填",
    "cadre_forgotten": "（已删除）",
    "cadres_head": "👥 <b>{org}</b> 团干部名册（含下级）\n"
    "配备率 {posts_filled}/{posts}（{cadre_pct}%）；在岗率 {holders_active}/{holders}（{active_pct}%，近 30 天在塔群助手中办过事）",
    "cadres_org": "\n<b>{org}</b>",
    "cadres_line": "#{id} {post}：{holder}",
    "cadres_line_implicit": "{post}（默认岗位）：{holder}",
    "cadres_vacant": "<i>空缺</i>",
    "cadres_holder": "{name} · {term} · 培训 {courses} 次 {hours} 小时",
    "cadres_more": "\n……另有 {n} 个组织未列出。完整名单：/export training（私聊发送）",
    "cadres_note": "\n名册在群里只显示 Telegram 昵称；真实姓名只在 /export training 中（私聊发送）。",
    "cadres_added": "已为“{org}”设立 {n} 个{post}岗位：{ids}。",
    "cadres_removed": "已撤销“{org}”的岗位 #{id}（{post}）。",
    "cadres_appointed": "已任命 {user} 为“{org}”{post}（#{id}）：{term}。",
    "cadres_handed_over": "“{org}”{post}（#{id}）已由 {before} 交接给 {user}：{term}。待审核时长和应交述职随书记岗位转给新任。",
    "cadres_mode_set": "“{org}”{post}（#{id}）：{term}。",
    "cadres_vacated": "“{org}”{post}（#{id}）已空缺。",
    "cadre_told_appointed": "📌 你已被任命为“{org}”{post}（岗位 #{id}）：{term}。",
    "cadre_told_handed_over": "📌 “{org}”{post}（岗位 #{id}）已交接给新任。感谢你的工作！",
    "cadre_told_vacated": "📌 你已不再担任“{org}”{post}（岗位 #{id}）。",
    "cadre_term_holder": "⏳ 你担任的“{org}”{post}（岗位 #{id}）任期将于 {end} 期满（还有 {days} 天）。请按规定准备换届。",
    "cadre_term_staff": "⏳ “{org}”{post}（岗位 #{id}）{name}（{first_name}）的任期将于 {end} 期满（还有 {days} 天）。",
    "me_cadres": "<b>团干部职务：</b>\n{posts}",
    "me_cadre_post": "• {org} {post}（#{id}）：{term}",
    "me_training": "<b>培训记录：</b>{courses} 次，{hours} 小时\n{items}",
    "me_training_item": "• {date} {title}（{kind}，{hours} 小时）",
    "act_kind_training": "培训班",
    "act_kind_lesson": "团课",
    "xl_training_what": "团干部培训记录",
    "xl_training_sheet": "培训记录",
    "xl_training_head": "组织|职务|姓名|任职方式|任期起|任期止|培训次数|培训学时|课程",
    "export_caption_training": "“{org}”团干部培训记录",
    "help_cadres": "<b>团干部名册（团干部，群内）：</b>\n/cadres 名册、配备率、在岗率\n"
    "/cadres add|appoint|mode|term|vacate|remove 设岗、任命、任期\n/export training 培训记录",
}

EN = {
    "usage_cadres": "Usage (staff, in a group):\n"
    "/cadres the cadre roster of this org and below\n"
    "/cadres add secretary|deputy|committee [count] declare posts\n"
    "/cadres appoint &lt;post&gt; [@username] [full|seconded|part] [start end] appoint (or reply to the person)\n"
    "/cadres mode &lt;post&gt; full|seconded|part\n"
    "/cadres term &lt;post&gt; &lt;start&gt; &lt;end&gt;\n"
    "/cadres vacate &lt;post&gt; the post becomes vacant\n"
    "/cadres remove &lt;post&gt; remove a vacant post\n"
    "&lt;post&gt; is a number (e.g. #12) or a position of this org (e.g. deputy).\n"
    "Example: /cadres appoint secretary @lina_daxu part 2026-01-01 2028-12-31",
    "err_cadre_position": '"{got}" is not a position. Write secretary, deputy or committee.',
    "err_cadre_mode": '"{got}" is not a mode. Write full, seconded or part.',
    "err_cadre_date": 'Cannot read the date "{got}". Write it as 2026-01-01.',
    "err_cadre_term_order": "A term must end after it starts.",
    "err_cadre_term_long": "A term cannot be longer than {years} years.",
    "err_cadre_term_two": "A term takes two dates, its start and its end, e.g. 2026-01-01 2028-12-31.",
    "err_cadre_count": "Write a whole number from 1 to {most}.",
    "err_cadre_self": "Nobody appoints or removes themselves.",
    "err_cadre_already": "That person already holds post #{post}. Use /cadres mode or /cadres term to change it.",
    "err_cadre_post_unknown": "There is no post #{post} in this org or below. Send /cadres to see the numbers.",
    "err_cadre_no_position": '"{org}" has no such post. Declare it with /cadres add first.',
    "err_cadre_which": "There are several such posts; write its number: {ids}",
    "err_cadre_vacant": "Post #{post} is vacant.",
    "err_cadre_remove_held": "Post #{post} is held; /cadres vacate {post} first.",
    "err_cadre_last_post": '"{org}" keeps at least one post.',
    "err_cadre_who": "Reply to the person's message, or add their @username.",
    "cadre_pos_secretary": "secretary",
    "cadre_pos_deputy": "deputy secretary",
    "cadre_pos_committee": "committee member",
    "cadre_mode_full": "full-time",
    "cadre_mode_seconded": "seconded",
    "cadre_mode_part": "part-time",
    "cadre_mode_none": "mode not set",
    "cadre_with_term": "{mode}, term {start} to {end}",
    "cadre_without_term": "{mode}, term not set",
    "cadre_forgotten": "(deleted)",
    "cadres_head": "👥 <b>{org}</b> cadre roster (with everything below)\n"
    "Posts filled {posts_filled}/{posts} ({cadre_pct}%); active {holders_active}/{holders} ({active_pct}%, acted in TowerBot in the last 30 days)",
    "cadres_org": "\n<b>{org}</b>",
    "cadres_line": "#{id} {post}: {holder}",
    "cadres_line_implicit": "{post} (default post): {holder}",
    "cadres_vacant": "<i>vacant</i>",
    "cadres_holder": "{name} · {term} · training {courses}× {hours} h",
    "cadres_more": "\n… and {n} more orgs. The full list: /export training (sent privately)",
    "cadres_note": "\nIn a group the roster shows Telegram names only; real names are in /export training (sent privately).",
    "cadres_added": 'Declared {n} {post} post(s) of "{org}": {ids}.',
    "cadres_removed": 'Removed post #{id} ({post}) of "{org}".',
    "cadres_appointed": 'Appointed {user} {post} of "{org}" (#{id}): {term}.',
    "cadres_handed_over": '{post} of "{org}" (#{id}) handed over from {before} to {user}: {term}. Pending hours and report-backs owed follow the secretary post.',
    "cadres_mode_set": '{post} of "{org}" (#{id}): {term}.',
    "cadres_vacated": '{post} of "{org}" (#{id}) is now vacant.',
    "cadre_told_appointed": '📌 You are now {post} of "{org}" (post #{id}): {term}.',
    "cadre_told_handed_over": '📌 {post} of "{org}" (post #{id}) has been handed over to your successor. Thank you!',
    "cadre_told_vacated": '📌 You no longer hold {post} of "{org}" (post #{id}).',
    "cadre_term_holder": '⏳ Your term as {post} of "{org}" (post #{id}) ends on {end} (in {days} days). Time to prepare the election.',
    "cadre_term_staff": '⏳ The term of {name} ({first_name}), {post} of "{org}" (post #{id}), ends on {end} (in {days} days).',
    "me_cadres": "<b>Cadre posts:</b>\n{posts}",
    "me_cadre_post": "• {org} {post} (#{id}): {term}",
    "me_training": "<b>Training record:</b> {courses} course(s), {hours} h\n{items}",
    "me_training_item": "• {date} {title} ({kind}, {hours} h)",
    "act_kind_training": "training course",
    "act_kind_lesson": "league class",
    "xl_training_what": "cadre training record",
    "xl_training_sheet": "Training",
    "xl_training_head": "Org|Post|Name|Mode|Term from|Term to|Courses|Hours|Titles",
    "export_caption_training": 'Cadre training record of "{org}"',
    "help_cadres": "<b>Cadre roster (staff, in a group):</b>\n/cadres roster, posts filled, active cadres\n"
    "/cadres add|appoint|mode|term|vacate|remove posts, appointments, terms\n/export training the training record",
}
