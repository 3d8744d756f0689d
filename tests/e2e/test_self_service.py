"""The self-service FAQ (/faq and its JSON API) against a real kefu process."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

PROMOTIONS = """\
variables:
  hotline: 400-800-1234
entries:
  - id: spring_sale
    category: promotion
    questions: [春季大促有什么优惠, 春季大促满减怎么算]
    answer: 春季大促全场满300减50。
    valid_until: 2020-04-30
  - id: winter_sale
    category: promotion
    questions: [冬季大促有什么优惠, 冬季大促满减怎么算]
    answer: 冬季大促全场满500减80。
    valid_from: 2999-12-01
  - id: summer_sale
    category: promotion
    questions: [夏季大促有什么优惠, 夏季大促满减怎么算]
    answer: "{shop_name}夏季大促全场满200减30，详询{hotline}。"
    valid_from: 2020-06-01
    valid_until: 2999-08-31
  - id: wecom_gift
    category: promotion
    questions: [企业微信加好友送什么, 加企微有礼品吗]
    answer: 添加企业微信好友即送试用装。
    channels: [wecom]
  - id: gift_wrap
    questions: [可以礼品包装吗, 能帮忙包装成礼物吗]
    answer: 可以免费礼品包装，下单时备注即可。
"""


def entries(base_url: str) -> dict:
    response = httpx.get(f"{base_url}/api/faq/entries")
    assert response.status_code == 200
    return response.json()


def search(base_url: str, q: str) -> dict:
    response = httpx.get(f"{base_url}/api/faq/search", params={"q": q})
    assert response.status_code == 200
    return response.json()


def ids(listing: dict) -> list[str]:
    return [e["id"] for group in listing["categories"] for e in group["entries"]]


@pytest.fixture
def promotions_kefu(kefu_factory, tmp_path: Path):
    faq_dir = tmp_path / "faq"
    faq_dir.mkdir()
    (faq_dir / "promotions.yaml").write_text(PROMOTIONS, encoding="utf-8")
    process = kefu_factory(KEFU_FAQ_DIR=str(faq_dir), KEFU_SHOP_NAME="好物小铺")
    process.migrate()
    return process.start()


def test_faq_page_is_served_in_chinese(kefu):
    page = httpx.get(f"{kefu.url}/faq")
    assert page.status_code == 200 and "常见问题 · 自助服务" in page.text


def test_entries_come_grouped_in_the_friendly_category_order_with_chinese_titles(kefu):
    listing = entries(kefu.url)

    assert listing["shop_name"] == "小店"
    assert [(g["category"], g["title"]) for g in listing["categories"]] == [
        ("presale", "售前咨询"),
        ("promotion", "优惠活动"),
        ("payment", "支付"),
        ("order", "订单"),
        ("logistics", "物流配送"),
        ("aftersale", "售后服务"),
        ("invoice", "发票"),
        ("account", "账户会员"),
    ]
    logistics = listing["categories"][4]["entries"]
    assert [e["id"] for e in logistics] == [
        "shipping_time",
        "urge_shipping",
        "courier_company",
        "tracking",
        "delivery_area",
        "shipping_fee",
    ]
    assert logistics[0]["question"] == "什么时候发货" and "48小时内发货" in logistics[0]["answer"]


def test_entry_answers_have_the_shop_name_filled_in(kefu):
    answers = {e["id"]: e["answer"] for g in entries(kefu.url)["categories"] for e in g["entries"]}
    assert answers["shipping_fee"].startswith("亲，小店全场商品默认包邮")
    assert not any("{shop_name}" in answer for answer in answers.values())


def test_search_answers_with_the_best_entry_first_then_close_candidates(kefu):
    result = search(kefu.url, "运费")

    assert result["decision"] == "answer"
    assert [r["id"] for r in result["results"]] == ["shipping_fee", "shipping_insurance"]
    best = result["results"][0]
    assert best["question"] == "包邮吗" and best["answer"].startswith("亲，小店全场") and 0 < best["score"] <= 1


def test_search_for_invoice_returns_the_invoice_answer(kefu):
    result = search(kefu.url, "发票")
    assert result["decision"] == "answer"
    assert result["results"][0]["id"] == "invoice" and "电子普通发票" in result["results"][0]["answer"]


def test_an_unsure_search_lists_the_suggestions(refunds_kefu):
    process = refunds_kefu

    result = search(process.url, "退款要多久")

    assert result["decision"] == "suggest"
    assert sorted(r["id"] for r in result["results"]) == ["refund_card", "refund_huabei"]


def test_a_search_without_a_match_returns_no_results(kefu):
    assert search(kefu.url, "今天天气怎么样") == {"decision": "none", "results": []}


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "发" * 201}], ids=["missing", "empty", "too-long"])
def test_search_query_must_be_1_to_200_characters(kefu, params):
    assert httpx.get(f"{kefu.url}/api/faq/search", params=params).status_code == 422


def test_search_accepts_a_200_character_query(kefu):
    assert search(kefu.url, "发票" * 100)["results"][0]["id"] == "invoice"


def test_expired_and_upcoming_promotions_are_neither_listed_nor_searchable(promotions_kefu):
    listing = entries(promotions_kefu.url)

    assert "spring_sale" not in ids(listing) and "winter_sale" not in ids(listing)
    assert "summer_sale" in ids(listing)
    assert search(promotions_kefu.url, "夏季大促有什么优惠")["results"][0]["id"] == "summer_sale"
    for query in ("春季大促有什么优惠", "冬季大促满减怎么算"):
        found = [r["id"] for r in search(promotions_kefu.url, query)["results"]]
        assert "spring_sale" not in found and "winter_sale" not in found


def test_live_promotion_answer_uses_the_shop_name_and_faq_variables(promotions_kefu):
    listing = entries(promotions_kefu.url)
    [summer] = [e for g in listing["categories"] for e in g["entries"] if e["id"] == "summer_sale"]
    assert listing["shop_name"] == "好物小铺"
    assert summer["answer"] == "好物小铺夏季大促全场满200减30，详询400-800-1234。"


def test_entries_for_other_channels_are_hidden_and_uncategorised_ones_go_last_under_others(promotions_kefu):
    listing = entries(promotions_kefu.url)
    assert "wecom_gift" not in ids(listing)
    assert listing["categories"][-1]["category"] == "others"
    assert listing["categories"][-1]["title"] == "其他"
    assert [e["id"] for e in listing["categories"][-1]["entries"]] == ["gift_wrap"]
    assert "wecom_gift" not in [r["id"] for r in search(promotions_kefu.url, "企业微信加好友送什么")["results"]]


def test_without_a_loaded_faq_the_api_answers_503(kefu_factory, tmp_path):
    empty = tmp_path / "empty-faq"
    empty.mkdir()
    process = kefu_factory(KEFU_FAQ_DIR=str(empty))
    process.migrate()
    process.start(ready_status=503)

    for path in ("/api/faq/entries", "/api/faq/search?q=发票"):
        response = httpx.get(f"{process.url}{path}")
        assert response.status_code == 503
        assert response.json()["detail"] == "常见问题暂不可用，请稍后再试 (no FAQ is loaded)"
