"""What the bot says to customers when it is not quoting an FAQ answer."""

HANDOFF_REQUESTED = "好的，正在为您转接人工客服，请稍候～ 接通后客服会在这里回复您。"
NO_ANSWER = "抱歉，这个问题我还不太会回答😅 您可以换个说法再问我，或者回复“人工”转接人工客服。"
