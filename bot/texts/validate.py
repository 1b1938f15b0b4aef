"""Texts of the shared input rules (bot/domain/validate.py): digits, invisible characters, fields."""

ZH = {
    "err_foreign_digits": "“{got}”里有非 0–9 的数字字符“{char}”（{code}），请只用 0–9 书写数字。",
    "err_invisible_chars": "{field}含有不可见的格式字符（{code}），请删除后重新输入。",
    "err_when_unknown": "没看懂日期“{got}”。可以写：2026-12-20、12月20日、明天、下周六、明天 9点、下午3点。",
    "err_when_invalid": "“{got}”不是有效的日期或时间。",
    "err_when_time": "没看懂时间“{got}”。可以写：09:00、9点、9点半、下午3点、晚上7点。",
    "err_when_no_time": "请写上时间，例如：明天 9点、下周六 下午3点、2026-12-20 09:00（收到“{got}”）。",
    "err_when_weekday": "“{got}”里的星期与日期对不上，请检查一下。",
    "when_pick": "“{got}”是指哪个时间？请选一个：",
    "err_when_not_yours": "这个问题是问发命令的人的。",
    "field_org_name": "组织名称",
    "field_kind": "组织类型",
    "field_title": "标题",
    "field_place": "地点",
    "field_description": "服务内容",
}

EN = {
    "err_foreign_digits": '"{got}" holds the digit "{char}" ({code}); please write numbers with 0–9 only.',
    "err_invisible_chars": "The {field} contains an invisible formatting character ({code}); please remove it and try again.",
    "err_when_unknown": 'I could not read the date "{got}". You can write: 2026-12-20, Dec 20, tomorrow, next Sat, tomorrow 9am, 3pm.',
    "err_when_invalid": '"{got}" is not a valid date or time.',
    "err_when_time": 'I could not read the time "{got}". You can write: 09:00, 9am, 3pm, 3:30pm.',
    "err_when_no_time": 'Please add a time, e.g. tomorrow 9am, next Sat 3pm, 2026-12-20 09:00 (got "{got}").',
    "err_when_weekday": 'The weekday in "{got}" does not match the date; please check it.',
    "when_pick": 'Which do you mean by "{got}"? Please choose:',
    "err_when_not_yours": "This question is for the person who sent the command.",
    "field_org_name": "org name",
    "field_kind": "org kind",
    "field_title": "title",
    "field_place": "place",
    "field_description": "description",
}
