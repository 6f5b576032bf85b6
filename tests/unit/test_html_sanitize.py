"""The sanitizer for clients' HTML bodies (review.html): what it removes, what it keeps, and that it is
stable."""
from __future__ import annotations

import re

import pytest
from markupsafe import Markup

from review.app import template_env
from review.html import BLOCKED_IMAGE, safe_html, safe_html_markup

DANGEROUS = [
    '<script>alert(1)</script>',
    '<SCRIPT SRC=https://evil.example/x.js></SCRIPT>',
    '<scr<script>ipt>alert(1)</scr</script>ipt>',
    '<img src=x onerror=alert(1)>',
    '<body onload=alert(1)>',
    '<div onmouseover="alert(1)" ONCLICK=alert(2) onFocus=alert(3) tabindex=0>x</div>',
    '<a href="javascript:alert(1)">j</a>',
    '<a href="JaVaScRiPt:alert(1)">j</a>',
    '<a href="java&#x09;script:alert(1)">j</a>',
    '<a href="&#106;avascript:alert(1)">j</a>',
    '<a href=" \x01javascript:alert(1)">j</a>',
    '<a href="vbscript:msgbox(1)">v</a>',
    '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">d</a>',
    '<form action="javascript:alert(1)"><input type=submit value=go><button>b</button></form>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;"></iframe>',
    '<object data="javascript:alert(1)"></object><embed src="javascript:alert(1)">',
    '<svg onload=alert(1)><script>alert(2)</script></svg>',
    '<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>',
    '<p style="background:url(javascript:alert(1))">s</p>',
    '<div style="width:expression(alert(1))">e</div>',
    '<style>@import "https://evil.example/x.css";</style>',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="https://evil.example/"><link rel=stylesheet href="https://evil.example/x.css">',
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>"></noscript>',
    '<details open ontoggle=alert(1)>d</details>',
    '<video><source onerror=alert(1)></video><audio src=x onerror=alert(1)>',
]
FORBIDDEN = re.compile(r"<(script|style|iframe|object|embed|form|input|button|textarea|svg|math|meta|"
                       r"base|link|video|audio|source|body)\b|\son[a-z]+\s*=|\sstyle\s*=|javascript:|vbscript:|data:text",
                       re.IGNORECASE)


@pytest.mark.parametrize("payload", DANGEROUS)
def test_dangerous_markup_is_removed(payload):
    out = safe_html(payload)
    assert not FORBIDDEN.search(out), out
    assert "<img" not in out or "src=" not in out  # no fetched image survives
    assert safe_html(out) == out


def test_scripts_and_styles_go_with_their_content():
    out = safe_html("<p>before</p><script>var secret = 1;</script><style>p { color: red "
                    "}</style><p>after</p>")
    assert out == "<p>before</p><p>after</p>"


def test_forms_keep_their_text_but_lose_every_control():
    out = safe_html('<form action="https://evil.example/steal" method=post>Your password: '
                    '<input type=password name=pw><select><option>a</option></select>'
                    '<textarea>t</textarea><button>Send</button></form>')
    assert out == "Your password: "


def test_links_keep_only_web_and_mail_addresses_with_a_safe_rel():
    out = safe_html('<a href="https://example.com/a?b=1&amp;c=2">web</a> <a '
                    'href="mailto:pm@example.com">mail</a> <a href="/logout">relative</a> <a '
                    'href="ftp://example.com/">ftp</a>')
    rel = 'rel="noopener noreferrer nofollow"'
    assert f'<a href="https://example.com/a?b=1&amp;c=2" {rel}>web</a>' in out
    assert f'<a href="mailto:pm@example.com" {rel}>mail</a>' in out
    assert f"<a {rel}>relative</a>" in out and f"<a {rel}>ftp</a>" in out


@pytest.mark.parametrize("src", ["https://tracker.example/open.gif?u=42", "http://tracker.example/p.png",
                                 "//tracker.example/p.png", "x", "/static/logo.png",
                                 "data:image/svg+xml,<svg onload=alert(1)>", "javascript:alert(1)"])
def test_remote_and_odd_images_are_blocked_with_a_marker(src):
    out = safe_html(f'<p>Logo: <img src="{src}" alt="ACME &amp; Co" width=100></p>')
    assert "<img" not in out
    assert out == ('<p>Logo: <span title="remote image blocked">[remote image blocked: ACME &amp; '
                   'Co]</span></p>')


def test_a_blocked_image_without_alt_gets_the_plain_marker():
    assert safe_html('<img src="https://t.example/x.gif">') == (
        f'<span title="remote image blocked">{BLOCKED_IMAGE}</span>')


@pytest.mark.parametrize("src", ["cid:image001.png@01DA1234.5678", "data:image/png;base64,iVBORw0KGgo=",
                                 "DATA:image/gif;base64,R0lGODlhAQABAAAAACw="])
def test_inline_images_are_kept(src):
    out = safe_html(f'<img src="{src}" alt="chart" onload="alert(1)" style="border:0">')
    assert out == f'<img src="{src}" alt="chart">'


def test_ordinary_formatting_is_kept():
    html = ('<h1>Title</h1><h3 align="center">Sub</h3><p>Hello <b>bold</b> <i>it</i> <u>u</u> '
            '<strong>s</strong> <em>e</em> <span>sp</span><br>next</p><div><font color="red" '
            'face="Arial">f</font></div><ul><li>one</li></ul><ol '
            'start="3"><li>three</li></ol><blockquote>quoted</blockquote><pre>pre  '
            'text</pre><code>code</code><hr><table '
            'border="1"><thead><tr><th>h</th></tr></thead><tbody><tr><td '
            'colspan="2">c</td></tr></tbody></table>')
    assert safe_html(html) == html


def test_identifiers_and_classes_cannot_impersonate_the_page():
    out = safe_html('<div id="item-ref" class="badge review" name="x">fake</div>')
    assert out == "<div>fake</div>"


def test_comments_and_conditional_comments_are_dropped():
    assert safe_html("a<!-- secret --><!--[if IE]><script>alert(1)</script><![endif]-->b") == "ab"


def test_attribute_values_that_look_like_tags_stay_inside_the_attribute():
    out = safe_html('<a title="<img src=x onerror=alert(1)>" href="https://example.com">t</a>')
    assert out.startswith('<a title="&lt;img src=x onerror=alert(1)&gt;"')
    assert "<img" not in out and "<span" not in out


@pytest.mark.parametrize("html", [
    "<p>plain</p>", '<img src="https://x.example/a.png" alt="a &lt;b&gt; &quot;c&quot;">',
    "<table><tr><td>unclosed", "<b><i>misnested</b></i>", "1 < 2 &amp;&amp; 3 > 2 &nbsp;",
    '<a href="https://example.com/?q=&quot;x&quot;">q</a>', "<p>caf\u00e9 \u4f60\u597d \U0001F600</p>",
] + DANGEROUS)
def test_sanitizing_twice_changes_nothing(html):
    once = safe_html(html)
    assert safe_html(once) == once


def test_empty_input():
    assert safe_html("") == ""
    assert safe_html_markup(None) == Markup("")


def test_the_template_filter_returns_markup_of_the_sanitized_html():
    env = template_env()
    rendered = env.from_string("<div>{{ h|safe_html }}</div><p>{{ h }}</p>").render(
        h='<b>hi</b><script>alert(1)</script>')
    assert rendered == "<div><b>hi</b></div><p>&lt;b&gt;hi&lt;/b&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert isinstance(safe_html_markup("<b>x</b>"), Markup)
