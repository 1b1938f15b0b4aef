"""Texts of the shared input rules (bot/domain/validate.py): digits, invisible characters, fields."""

ZH = {
    "err_foreign_digits": "“{got}”里有非 0–9 的数字字符“{char}”（{code}），请只用 0–9 书写数字。",
    "err_invisible_chars": "{field}含有不可见的格式字符（{code}），请删除后重新输入。",
    "field_org_name": "组织名称",
    "field_kind": "组织类型",
    "field_title": "标题",
    "field_place": "地点",
    "field_description": "服务内容",
}

EN = {
    "err_foreign_digits": "“{got}” holds the digit “{char}” ({code}); please write numbers with 0–9 only.",
    "err_invisible_chars": "The {field} contains an invisible formatting character ({code}); please remove it and try again.",
    "field_org_name": "org name",
    "field_kind": "org kind",
    "field_title": "title",
    "field_place": "place",
    "field_description": "description",
}
