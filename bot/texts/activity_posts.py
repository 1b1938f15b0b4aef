"""Texts of an activity's posts and shifts: the card's post lines, answers to a post's button,
and the one-line refusals of a bad `| 岗位 …` field."""

_EX_ZH = "例如：| 岗位 引导 50, 检票 30 09:00-12:00, 医疗 5"
_EX_EN = "e.g. | posts Guides 50, Tickets 30 09:00-12:00, First aid 5"

ZH = {
    "act_post_line": "• {name} {count}{shift}",
    "act_post_shift": " · {start}–{end}",
    "act_reminder_shift": "⏰ 岗位提醒：你在“{title}”的岗位“{post}”将在{left}后上岗。\n班次：{shift}–{end}\n地点：{place}",
    "act_ans_post_confirmed": "已报名岗位“{post}”！{count}",
    "act_ans_post_waiting": "岗位“{post}”已满，你在候补第 {position} 位。{count}",
    "act_ans_post_already_confirmed": "你已报名岗位“{post}”。",
    "act_ans_post_already_waiting": "你在岗位“{post}”的候补名单中（第 {position} 位）。",
    "act_state_post": "岗位：{post}",
    "act_state_choose_post": "请在下面选择一个岗位报名。",
    "err_post_choose": "“{title}”分设岗位，请在活动卡片上点选一个岗位报名。",
    "err_post_held": "你已报名岗位“{post}”，每人每个活动只能报一个岗位；如需换岗，请先点“取消”再选。",
    "err_post_none": "岗位一项里没有岗位。" + _EX_ZH,
    "err_post_many": "岗位太多（最多 {max} 个，收到 {got} 个）。" + _EX_ZH,
    "err_post_dup": "岗位“{name}”重复了。" + _EX_ZH,
    "err_post_item": "岗位“{got}”写法不对，应为“名称 名额 [开始-结束]”。" + _EX_ZH,
    "err_post_name_long": "岗位名称“{got}”太长（最多 {max} 个字符）。" + _EX_ZH,
    "err_post_capacity": "岗位“{name}”的名额“{got}”无效：须为 1 到 {max} 的整数。" + _EX_ZH,
    "err_post_shift": "班次“{got}”无效：写成 09:00-12:00，须在同一天内、至少 15 分钟。" + _EX_ZH,
    "err_post_total": "各岗位名额合计 {total}，与总名额 {got} 不符：把总名额写成 {total} 或 -。",
    "err_post_total_max": "各岗位名额合计 {total}，超过上限 {max}。",
}

EN = {
    "act_post_line": "• {name} {count}{shift}",
    "act_post_shift": " · {start}–{end}",
    "act_reminder_shift": '⏰ Reminder: your shift at "{post}" for "{title}" starts in{left}.\nShift: {shift}–{end}\nPlace: {place}',
    "act_ans_post_confirmed": 'You\'re signed up for "{post}"! {count}',
    "act_ans_post_waiting": '"{post}" is full: you are number {position} on its waitlist. {count}',
    "act_ans_post_already_confirmed": 'You are already signed up for "{post}".',
    "act_ans_post_already_waiting": 'You are already on the waitlist of "{post}" (number {position}).',
    "act_state_post": "Post: {post}",
    "act_state_choose_post": "Choose a post below to sign up.",
    "err_post_choose": '"{title}" has posts: press one of the posts on the card to sign up.',
    "err_post_held": 'You hold the post "{post}"; one post per person per activity. To change, press Cancel first, then choose again.',
    "err_post_none": "The posts field names no post. " + _EX_EN,
    "err_post_many": "Too many posts (at most {max}, got {got}). " + _EX_EN,
    "err_post_dup": 'The post "{name}" appears twice. ' + _EX_EN,
    "err_post_item": 'Post "{got}" should read "name capacity [start-end]". ' + _EX_EN,
    "err_post_name_long": 'The post name "{got}" is too long (at most {max} characters). ' + _EX_EN,
    "err_post_capacity": 'Capacity "{got}" of post "{name}" is not valid: a whole number from 1 to {max}. '
    + _EX_EN,
    "err_post_shift": 'Shift "{got}" is not valid: write 09:00-12:00, within one day, at least 15 minutes. '
    + _EX_EN,
    "err_post_total": "The posts add up to {total}, not the capacity {got}: write the capacity as {total} or -.",
    "err_post_total_max": "The posts add up to {total}, above the limit of {max}.",
}
