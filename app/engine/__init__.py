"""The conversation engine: intake, per-conversation ordering, the bot's decision, the outbox."""
