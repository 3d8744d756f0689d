"""A customer opens /faq in a real browser, searches for an answer and browses the categories."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_customer_searches_and_browses_the_faq_in_the_browser(kefu, browser):
    page = browser.new_page(viewport={"width": 390, "height": 740})
    page.goto(f"{kefu.url}/faq")
    expect(page.locator("#shop-name")).to_have_text("小店")
    expect(page.locator('.category[data-category="logistics"] h2')).to_contain_text("物流配送")
    expect(page.locator(".category").first).to_have_attribute("data-category", "presale")

    page.fill("#search", "发票")

    best = page.locator('#results .faq-item[data-id="invoice"]')
    expect(best.locator(".answer")).to_be_visible()
    expect(best).to_contain_text("电子普通发票")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "faq.png"))

    item = page.locator('.category[data-category="logistics"] .faq-item[data-id="shipping_time"]')
    expect(item.locator(".answer")).to_be_hidden()
    item.locator("summary").click()
    expect(item.locator(".answer")).to_be_visible()
    expect(item.locator(".answer")).to_contain_text("48小时内发货")


def test_a_search_without_results_offers_the_live_chat(kefu, browser):
    page = browser.new_page()
    page.goto(f"{kefu.url}/faq")
    expect(page.locator(".category").first).to_be_visible()

    page.fill("#search", "今天天气怎么样")

    expect(page.locator("#results")).to_contain_text("没有找到相关问题")
    link = page.locator("#results a", has_text="联系在线客服")
    expect(link).to_have_attribute("href", "/chat")
    link.click()
    expect(page).to_have_url(f"{kefu.url}/chat")
