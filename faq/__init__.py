"""The FAQ knowledge base: files ops edit, their loader, normalisation and the matcher.

Imports nothing of kefu's.
"""
