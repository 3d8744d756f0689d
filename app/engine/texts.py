"""The numbered suggestion list; every other customer text lives in the routing rules' templates."""


def suggestions(questions: list[str]) -> str:
    """'您是想问：' and a numbered list the customer answers with a digit."""
    lines = [f"{n}. {q}" for n, q in enumerate(questions, start=1)]
    return "您是想问：\n" + "\n".join(lines) + "\n请回复数字选择，或者换个说法再问我～"
