from __future__ import annotations

import pytest

from routing.human_request import asks_for_human


@pytest.mark.parametrize("text", ["转人工", "人工", "人工客服！！", "我要找人工", "真人", "能不能转接人工"])
def test_requests_for_a_person_are_recognised(text):
    assert asks_for_human(text)


@pytest.mark.parametrize("text", ["人工智能音箱有吗", "安装要人工费吗", "什么时候发货", "客服电话多少"])
def test_other_messages_are_not_requests_for_a_person(text):
    assert not asks_for_human(text)
