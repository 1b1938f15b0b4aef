"""The one Telegram edge for what the bot sends outside a handler's direct reply: the outbox
sender, live card edits, membership probes, one error mapping and one per-chat pacing."""
