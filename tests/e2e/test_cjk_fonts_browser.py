"""Chinese pages render real glyphs in the browser, not the boxes of a missing font."""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Locator, Page

from tests.e2e.test_review_browser import CHROMIUM, CHROMIUM_ARGS, LEAD, base_url, browser, seeded  # noqa: F401
from tests.web import PASSWORD

pytestmark = pytest.mark.e2e

# Private-use code points: no font has glyphs for them, so they always render as the missing-glyph box.
DEJAVU = "/usr/share/fonts/truetype/dejavu"
_NO_GLYPH = "".join(chr(0xE000 + i) for i in range(64))

# Puts two probes on the page in the element's font (family, size, weight): one with the element's text, one
# with as many private-use characters; returns the text.
_PROBES = """(el, noGlyph) => {
  const style = getComputedStyle(el);
  const text = el.textContent.trim();
  const missing = noGlyph.slice(0, [...text].length);
  for (const [id, content] of [['glyph-probe-same', text], ['glyph-probe-missing', missing]]) {
    const probe = document.createElement('span');
    probe.id = id;
    probe.textContent = content;
    Object.assign(probe.style, {position: 'absolute', left: '0', top: id.endsWith('same') ? '0' : '200px',
                                display: 'inline-block', whiteSpace: 'nowrap', background: '#fff',
                                color: '#000', fontFamily: style.fontFamily, fontSize: style.fontSize,
                                fontWeight: style.fontWeight, lineHeight: style.lineHeight, zIndex: '1000'});
    document.body.append(probe);
  }
  return text;
}"""


def _signed_in_zh(browser: Browser, base_url: str) -> Page:  # noqa: F811
    pg = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800}).new_page()
    pg.goto(base_url + "/login")
    pg.locator("input[name=email]").fill(LEAD)
    pg.locator("input[name=password]").fill(PASSWORD)
    pg.locator("form button[type=submit]").click()
    pg.wait_for_url(base_url + "/")
    return pg


@pytest.fixture
def zh_page(browser, base_url) -> Iterator[Page]:  # noqa: F811
    pg = _signed_in_zh(browser, base_url)
    yield pg
    pg.context.close()


def _widths(page: Page, element: Locator) -> tuple[str, float, float]:
    """ELEMENT's text, and the rendered widths of that text and of as many missing glyphs, in its font."""
    text = element.evaluate(_PROBES, _NO_GLYPH)
    width = "el => el.getBoundingClientRect().width"
    return (text, page.locator("#glyph-probe-same").evaluate(width),
            page.locator("#glyph-probe-missing").evaluate(width))


def _assert_glyphs(page: Page, element: Locator) -> tuple[str, float]:
    """Checks ELEMENT's Chinese text renders unlike missing glyphs; returns the text and its width."""
    text, width, box_width = _widths(page, element)
    assert text and all("\u4e00" <= ch <= "\u9fff" for ch in text), text
    # Every missing glyph draws the same box with the same advance, so Chinese shown as boxes is exactly as
    # wide as the private-use string; a CJK font draws each character one em wide, wider than the box.
    assert width != box_width, f"{text!r} renders as missing-glyph boxes ({width} px wide, as the boxes)"
    return text, width


def test_chinese_text_renders_with_a_cjk_font(zh_page, base_url):  # noqa: F811
    zh_page.goto(base_url + "/")
    assert zh_page.locator("html").get_attribute("lang") == "zh-CN"
    h1 = zh_page.locator("main h1").first
    text, width = _assert_glyphs(zh_page, h1)
    # A CJK font draws each Chinese character one em wide.
    size = h1.evaluate("el => parseFloat(getComputedStyle(el).fontSize)")
    assert width == pytest.approx(len(text) * size, rel=0.05)
    zh_page.goto(base_url + "/items/CI-000002")  # a Chinese client's subject
    _assert_glyphs(zh_page, zh_page.locator("main h1").first)


def test_without_a_cjk_font_the_check_fails(browser, base_url, tmp_path):  # noqa: F811
    """The same check in a Chromium that sees only the DejaVu fonts (Debian's default, no CJK glyphs) reports
    the Chinese page as boxes."""
    conf = tmp_path / "fonts.conf"
    conf.write_text(f"<?xml version='1.0'?><fontconfig><dir>{DEJAVU}</dir>"
                    f"<cachedir>{tmp_path / 'cache'}</cachedir></fontconfig>")
    bare = browser.browser_type.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                       env={**os.environ, "FONTCONFIG_FILE": str(conf)})
    try:
        page = _signed_in_zh(bare, base_url)
        with pytest.raises(AssertionError, match="renders as missing-glyph boxes"):
            _assert_glyphs(page, page.locator("main h1").first)
    finally:
        bare.close()
