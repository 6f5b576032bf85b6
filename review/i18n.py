"""The app's languages: the user's choice or the browser's, and the gettext functions pages and messages
use."""
from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.core import negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment
from starlette.types import ASGIApp, Receive, Scope, Send

LANGUAGES = {"en": "English", "zh": "中文"}
DEFAULT = "en"
LOCALES = Path(__file__).parent / "locales"
_current: ContextVar[str] = ContextVar("language", default=DEFAULT)


@cache
def translations(lang: str) -> NullTranslations:
    """LANG's catalog, compiled in memory from the shipped .po file (English is the source text)."""
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if lang == DEFAULT or not po.exists():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def browser_language(accept_language: str) -> str:
    """The best of LANGUAGES for an Accept-Language header (by q-value, then order); DEFAULT if none fits."""
    ranked: list[tuple[float, int, str]] = []
    for n, piece in enumerate(accept_language.split(",")[:20]):
        tag, _, params = piece.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and q > 0:
            ranked.append((-q, n, tag.strip()))
    preferred = [tag for _q, _n, tag in sorted(ranked)]
    return negotiate_locale(preferred, list(LANGUAGES), sep="-") or DEFAULT


def current_language() -> str:
    """The language of the request being handled."""
    return _current.get()


def gettext(message: str, **values: Any) -> str:
    """MESSAGE in the current language, with %(name)s placeholders filled from VALUES (as in the
    templates)."""
    text = translations(_current.get()).gettext(message)
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """SINGULAR or PLURAL (by N) in the current language, with %(num)s and VALUES filled in."""
    text = translations(_current.get()).ngettext(singular, plural, n)
    return text % {"num": n, **values}


def pgettext(context: str, message: str, **values: Any) -> str:
    """MESSAGE as meant in CONTEXT (one English word, two translations), with VALUES filled in."""
    text = translations(_current.get()).pgettext(context, message)
    return text % values if values else text


def N_(message: str) -> str:
    """Marks MESSAGE for extraction without translating it (module constants, exception messages)."""
    return message


class Explained(ValueError):
    """An error a person can act on. str() is the English text (JSON API, logs); translated() is the same
    in the request's language (pages). MESSAGE is the msgid, VALUES fill its %(name)s placeholders, and
    LOCAL overrides some of them on pages only, computed when shown (labels instead of codes)."""

    def __init__(self, message: str, /, local: Mapping[str, Callable[[], str]] | None = None,
                 **values: Any) -> None:
        super().__init__(message % values if values else message)
        self.message, self.values, self.local = message, values, dict(local or {})

    def translated(self) -> str:
        if _current.get() == DEFAULT:
            return str(self)  # the English text itself, as the API has it
        values = {**self.values, **{name: make() for name, make in self.local.items()}}
        return gettext(self.message, **values)


def translated(error: BaseException | str) -> str:
    """ERROR's message for a page: an Explained error translated, else its text if the catalog has it."""
    if isinstance(error, Explained):
        return error.translated()
    return gettext(str(error))


def _plain_gettext(message: str) -> str:
    return translations(_current.get()).gettext(message)


def _plain_ngettext(singular: str, plural: str, n: int) -> str:
    return translations(_current.get()).ngettext(singular, plural, n)


def _plain_pgettext(context: str, message: str) -> str:
    return translations(_current.get()).pgettext(context, message)


def install(env: Environment) -> None:
    """Gives ENV's templates _(), gettext(), ngettext(), pgettext() and {% trans %} in the request's
    language."""
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(_plain_gettext, _plain_ngettext,
                                  newstyle=True,  # type: ignore[attr-defined]
                                  pgettext=_plain_pgettext)
    env.globals.update(current_language=current_language, languages=LANGUAGES)


_ = gettext


def scope_language(scope: Scope) -> str:
    """The language for a request: the signed-in user's choice, else the browser's Accept-Language."""
    chosen = getattr(scope.get("viewer"), "language", "")
    if chosen not in LANGUAGES:
        header = next((v for k, v in scope.get("headers", []) if k == b"accept-language"), b"")
        chosen = browser_language(header.decode("latin-1"))
    return chosen


@contextmanager
def speaking(lang: str) -> Iterator[None]:
    """Runs the block in LANG (for code outside the Language middleware, such as the 500 handler)."""
    token = _current.set(lang if lang in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


class Language:
    """Sets the request's language: the signed-in user's choice, else the browser's Accept-Language."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with speaking(scope_language(scope)):
            await self.app(scope, receive, send)
