"""Recurring activities (series): the card's series line, Join all, and the rule's refusals."""

ZH = {
    "act_card_series": "\n🔁 系列 {no}/{total} · {rule} {time}",
    "series_rule_weekdays": "每个工作日",
    "series_rule_weekly": "每周{day}",
    "series_rule_dates": "指定日期",
    "series_day_0": "一",
    "series_day_1": "二",
    "series_day_2": "三",
    "series_day_3": "四",
    "series_day_4": "五",
    "series_day_5": "六",
    "series_day_6": "日",
    "act_btn_join_all": "报名全部 Join all",
    "series_ans_joined": "报名全部：{confirmed} 场已报名，{waiting} 场候补。",
    "series_date_line": "· {when}",
    "series_cancelled_notice": "❌ 系列活动“{title}”的以下 {n} 场已取消：\n{dates}",
    "series_edited_notice": "✏️ 系列活动“{title}”已修改：\n{changes}\n涉及你报名的 {n} 场：\n{dates}",
    "series_fallback": "系列活动“{title}”有变动，请私聊机器人查看。",
    "series_cancel_done": "已取消“{title}”及之后的 {n} 场，已私聊通知 {count} 人（每人一条）。",
    "series_edit_done": "已修改活动 #{id} 及之后的 {n} 场（{fields}），卡片随后更新，已私聊通知 {told} 人。",
    "err_series_rule": (
        "看不懂重复规则“{got}”。写法：| 每个工作日 至 2027-01-31、| 每周六 至 2027-01-31"
        " 或 | 日期 12-05,12-12,12-19"
    ),
    "err_series_date": "重复规则里的日期“{got}”不对，请写成 2027-01-31 或 01-31。",
    "err_series_before": "重复规则的日期 {got} 早于第一场的日期。",
    "err_series_far": "重复规则的日期 {got} 太远：系列最长 {days} 天。",
    "err_series_empty": "按规则“{got}”一场也排不出来。",
    "err_series_many": "规则“{got}”排出的场次太多：一个系列最多 {max} 场。",
    "err_series_not": "活动 #{id} 不属于系列，请去掉“全部”。",
}

EN = {
    "act_card_series": "\n🔁 Series {no}/{total} · {rule} {time}",
    "series_rule_weekdays": "weekdays",
    "series_rule_weekly": "every {day}",
    "series_rule_dates": "set dates",
    "series_day_0": "Mon",
    "series_day_1": "Tue",
    "series_day_2": "Wed",
    "series_day_3": "Thu",
    "series_day_4": "Fri",
    "series_day_5": "Sat",
    "series_day_6": "Sun",
    "act_btn_join_all": "报名全部 Join all",
    "series_ans_joined": "Join all: confirmed in {confirmed}, waitlisted in {waiting}.",
    "series_date_line": "· {when}",
    "series_cancelled_notice": '❌ These {n} dates of the series "{title}" are cancelled:\n{dates}',
    "series_edited_notice": (
        '✏️ The series "{title}" changed:\n{changes}\nThe {n} dates you signed up for:\n{dates}'
    ),
    "series_fallback": 'The series "{title}" changed; open a private chat with the bot to see.',
    "series_cancel_done": (
        '"{title}" and the {n} dates from it on are cancelled; {count} people were told'
        " privately (one message each)."
    ),
    "series_edit_done": (
        "Activity #{id} and the {n} dates from it on are edited ({fields}); their cards follow,"
        " and {told} people were told privately."
    ),
    "err_series_rule": (
        'Cannot read the repeat rule "{got}". Write | weekdays until 2027-01-31,'
        " | weekly sat until 2027-01-31 or | dates 12-05,12-12,12-19"
    ),
    "err_series_date": 'The date "{got}" in the repeat rule is wrong: write 2027-01-31 or 01-31.',
    "err_series_before": "The repeat rule's date {got} is before the first date.",
    "err_series_far": "The repeat rule's date {got} is too far: a series spans at most {days} days.",
    "err_series_empty": 'The rule "{got}" gives no date at all.',
    "err_series_many": 'The rule "{got}" gives too many dates: a series has at most {max}.',
    "err_series_not": 'Activity #{id} is not part of a series: leave out "all".',
}
