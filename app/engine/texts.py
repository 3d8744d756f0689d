"""What the bot says to customers when it is not quoting an FAQ answer."""

HANDOFF_REQUESTED = "好的，正在为您转接人工客服，请稍候～ 接通后客服会在这里回复您。"
HANDOFF_AFTER_ANSWER = "这个问题需要人工为您处理，已为您转接人工客服，请稍候～"
NO_ANSWER = "抱歉，这个问题我还不太会回答😅 您可以换个说法再问我，或者回复“人工”转接人工客服。"


def suggestions(questions: list[str]) -> str:
    """'您是想问：' and a numbered list the customer answers with a digit."""
    lines = [f"{n}. {q}" for n, q in enumerate(questions, start=1)]
    return "您是想问：\n" + "\n".join(lines) + "\n请回复数字选择，或者换个说法再问我～"
