"""Deciding what happens to a conversation: emotion, intent, the handoff policy, queues.

May import `faq` types, nothing else of kefu's.
"""
