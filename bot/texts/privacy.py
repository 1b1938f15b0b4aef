"""Texts of /mydata, /auditlog and the guardian's consent for minors."""

ZH = {
    "mydata_caption": "这是我们保存的关于你的全部信息（JSON 文件）。",
    "mydata_sent": "你的数据已私信发送给你。",
    "usage_auditlog": "用法：/auditlog [条数]，例如：/auditlog 20（最多 100 条）",
    "auditlog_head": "🔐 <b>{orgs}</b>：最近 {n} 条个人信息导出与角色变更记录",
    "auditlog_empty": "暂无记录。",
    "auditlog_line": "• {when} {who} {action} {detail} @{org}",
    "auditlog_export": "导出",
    "auditlog_mydata": "下载本人数据",
    "auditlog_role": "设置角色",
    "auditlog_cli": "命令行",
    "auditlog_target": "（对象 {who}）",
    "help_privacy": "<b>隐私：</b>\n/mydata 下载我们保存的关于你的全部信息",
    "help_auditlog": "<b>审计：</b>\n/auditlog [条数] 个人信息导出与角色变更记录",
}

EN = {
    "mydata_caption": "Everything we keep about you (a JSON file).",
    "mydata_sent": "Your data has been sent to you privately.",
    "usage_auditlog": "Usage: /auditlog [count], e.g. /auditlog 20 (at most 100)",
    "auditlog_head": "🔐 <b>{orgs}</b>: the last {n} exports of personal data and role changes",
    "auditlog_empty": "Nothing logged yet.",
    "auditlog_line": "• {when} {who} {action} {detail} @{org}",
    "auditlog_export": "export",
    "auditlog_mydata": "own data download",
    "auditlog_role": "role change",
    "auditlog_cli": "command line",
    "auditlog_target": "(of {who})",
    "help_privacy": "<b>Privacy:</b>\n/mydata download everything we keep about you",
    "help_auditlog": "<b>Audit:</b>\n/auditlog [count] exports of personal data and role changes",
}
