"""One router per module: webhooks, health, chat."""
