"""Free-mail providers: their users are private people, not a client organization, whatever their domain."""
from __future__ import annotations

from collections.abc import Iterable

# Senders at these domains get no organization: giving one to a PM would show them every sender there.
# More can be added with tracker.free_mail_domains in the configuration.
FREE_MAIL_DOMAINS: frozenset[str] = frozenset({
    # International
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de",
    "hotmail.it", "hotmail.es", "live.com", "live.co.uk", "live.fr", "live.de", "msn.com", "yahoo.com",
    "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.co.jp", "yahoo.com.hk", "yahoo.com.tw", "yahoo.com.cn",
    "ymail.com", "rocketmail.com", "icloud.com", "me.com", "mac.com", "aol.com", "proton.me",
    "protonmail.com",
    "pm.me", "tutanota.com", "tuta.io", "fastmail.com", "zoho.com", "zohomail.com", "mail.com", "gmx.com",
    "gmx.net", "gmx.de", "web.de", "t-online.de", "yandex.ru", "yandex.com", "mail.ru", "inbox.ru", "bk.ru",
    "list.ru", "naver.com", "daum.net", "hanmail.net", "rediffmail.com", "seznam.cz", "orange.fr", "free.fr",
    "laposte.net", "libero.it", "btinternet.com", "comcast.net", "verizon.net", "att.net", "sbcglobal.net",
    "hey.com",
    # China
    "qq.com", "foxmail.com", "vip.qq.com", "163.com", "126.com", "yeah.net", "vip.163.com", "vip.126.com",
    "sina.com", "sina.cn", "vip.sina.com", "sohu.com", "vip.sohu.com", "aliyun.com", "139.com", "189.cn",
    "wo.cn", "tom.com", "21cn.com", "263.net",
})


def is_free_mail(domain: str, extra: Iterable[str] = ()) -> bool:
    """Whether DOMAIN belongs to a free-mail provider (the shipped list, plus EXTRA)."""
    domain = domain.strip().lower().rstrip(".")
    return domain in FREE_MAIL_DOMAINS or domain in {d.strip().lower() for d in extra}
