"""Texts of announcements, acknowledgements, the status board and the evening digest."""

ZH = {
    "usage_announce": "用法：/announce &lt;通知内容&gt; [| urgent]，或回复一条消息（文字、图片、文件）发送 /announce\n"
                      "例如：/announce 周六上午9点在雁山广场集合，参加“七彩四点半”志愿服务。\n"
                      "查看送达和确认情况：/announce status [编号]",
    "err_ann_kind": "只能转发文字、图片或文件作为通知。",
    "err_ann_too_long": "通知太长了（最多 {max} 个字符，收到 {got} 个）。",
    "err_ann_no_chats": "本组织及下级没有可送达的群。",
    "err_ann_unknown": "找不到这条通知。",
    "err_ann_none": "本组织还没有发过通知。",
    "ann_copy": "📢 <b>通知 #{id}</b>（{org}）\n\n{text}",
    "ann_copy_urgent": "🚨 <b>紧急通知 #{id}</b>（{org}）\n\n{text}",
    "ann_btn_ack": "收到 / Received",
    "ann_posted": "通知 #{id} 已发往 {count} 个群。查看送达和确认：/announce status {id}",
    "ann_posted_urgent": "紧急通知 #{id} 已发往 {count} 个群（不受每日消息额度限制）。查看：/announce status {id}",
    "ann_ack_thanks": "已确认收到，谢谢！",
    "ann_ack_already": "你已经确认过这条通知了。",
    "ann_reminder": "⏰ 通知 #{id}（{org}）在本群还没有人确认收到，请看过的同志点“收到”。",
    "ann_board_head": "通知 #{id}（{org}）：{chats} 个群，已送达 {delivered}，并入汇总待发 {digest_wait}，"
                      "等待发送 {pending}，失败 {failed}；{acked_chats} 个群已确认，共 {acks} 人确认。",
    "ann_board_where": "{title}（{org}）",
    "ann_board_delivered": "{where} 已送达 #{mid}",
    "ann_board_digest_sent": "{where} 已在晚间汇总中送达 #{mid}",
    "ann_board_acked": "✅ {line}，确认：{names}{more}",
    "ann_board_more_names": " 等 {n} 人",
    "ann_board_no_ack": "⚪ {line}，尚无人确认",
    "ann_board_digest": "🌙 {where} 超出今日消息额度，并入晚间汇总",
    "ann_board_pending": "⏳ {where} 等待发送",
    "ann_board_failed": "❌ {where} 发送失败：{error}",
    "ann_board_inactive": "机器人已不在群内",
    "ann_board_more_chats": "……还有 {n} 个群未列出",
    "digest_head": "🌙 <b>今日汇总</b>（{count} 条；为减少打扰，超出每日额度的消息合并在此）",
    "digest_attachment_photo": "[图片]",
    "digest_attachment_document": "[文件]",
    "help_announce": "<b>通知（团干部，群内）：</b>\n/announce &lt;内容&gt; [| urgent] 发往本群及所有下级群\n"
                     "/announce status [编号] 送达与确认情况",
}

EN = {
    "usage_announce": "Usage: /announce &lt;text&gt; [| urgent], or reply to a message (text, photo, file) with /announce\n"
                      "Example: /announce Meet at Yanshan Square on Saturday 9:00 for the homework club.\n"
                      "Delivery and acknowledgements: /announce status [id]",
    "err_ann_kind": "Only text, photos or files can be announced.",
    "err_ann_too_long": "The announcement is too long (at most {max} characters, got {got}).",
    "err_ann_no_chats": "No chat of this org or below can receive it.",
    "err_ann_unknown": "No such announcement.",
    "err_ann_none": "This org has not posted an announcement yet.",
    "ann_copy": "📢 <b>Announcement #{id}</b> ({org})\n\n{text}",
    "ann_copy_urgent": "🚨 <b>Urgent announcement #{id}</b> ({org})\n\n{text}",
    "ann_btn_ack": "收到 / Received",
    "ann_posted": "Announcement #{id} is on its way to {count} chats. Delivery and acknowledgements: /announce status {id}",
    "ann_posted_urgent": "Urgent announcement #{id} is on its way to {count} chats (outside the daily budget). Status: /announce status {id}",
    "ann_ack_thanks": "Acknowledged, thank you!",
    "ann_ack_already": "You have already acknowledged this announcement.",
    "ann_reminder": "⏰ Nobody in this chat has acknowledged announcement #{id} ({org}) yet; if you have read it, please press “Received”.",
    "ann_board_head": "Announcement #{id} ({org}): {chats} chats, delivered {delivered}, waiting for the digest {digest_wait}, "
                      "pending {pending}, failed {failed}; acknowledged in {acked_chats} chats by {acks} people.",
    "ann_board_where": "{title} ({org})",
    "ann_board_delivered": "{where} delivered #{mid}",
    "ann_board_digest_sent": "{where} delivered in the evening digest #{mid}",
    "ann_board_acked": "✅ {line}, acknowledged by {names}{more}",
    "ann_board_more_names": " and {n} more",
    "ann_board_no_ack": "⚪ {line}, no acknowledgement yet",
    "ann_board_digest": "🌙 {where} over today's budget, waiting for the evening digest",
    "ann_board_pending": "⏳ {where} waiting to be sent",
    "ann_board_failed": "❌ {where} failed: {error}",
    "ann_board_inactive": "the bot is no longer in the chat",
    "ann_board_more_chats": "… and {n} more chats",
    "digest_head": "🌙 <b>Today's digest</b> ({count}; messages over the daily budget are gathered here to disturb less)",
    "digest_attachment_photo": "[photo]",
    "digest_attachment_document": "[file]",
    "help_announce": "<b>Announcements (staff, in a group):</b>\n/announce &lt;text&gt; [| urgent] to this chat and every chat below\n"
                     "/announce status [id] delivery and acknowledgements",
}
