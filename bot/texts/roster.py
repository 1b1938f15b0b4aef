"""Texts of the roster match in /register (pre-registrations from `towerbot members import`)."""

ZH = {
    "reg_roster_hint": "如果你的团组织已导入名册，也可以直接点下方“分享手机号”，姓名和组织会自动填好。",
    "reg_roster_found": "✅ 名册中找到了你：<b>{name}</b>，{org}。请确认以下隐私说明。",
}

EN = {
    "reg_roster_hint": 'If your org has imported its roster, just press "Share my number" below: your name and org are filled in.',
    "reg_roster_found": "✅ Found you on your org's roster: <b>{name}</b>, {org}. Please read the privacy notice below.",
}
