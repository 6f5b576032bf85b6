"""Canned replies: admins keep reply templates per category and language; a PM inserts one and edits it."""
from __future__ import annotations

import logging

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import CATEGORIES, ReplyTemplate
from review.context import Context
from review.guard import checked_form, viewer
from review.i18n import LANGUAGES, N_, _, translated
from review.pages import error_page
from review.params import InvalidInput, choice_param, path_id, shown, text_value
from review.reply_templates import PLACEHOLDERS

REPLIES = "/replies"
MAX_NAME = 100
MAX_BODY = 20_000
log = logging.getLogger(__name__)


def routes(ctx: Context) -> list[Route]:
    """The admins' reply templates page and its forms, bound to CTX."""

    def listing(request: Request, problem: str = "", status: int = 200) -> Response:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 403, _("Only admins keep reply templates."))
        with ctx.read() as session:
            rows = session.scalars(select(ReplyTemplate).order_by(ReplyTemplate.lang, ReplyTemplate.category,
                                                                 ReplyTemplate.name)).all()
        return ctx.templates.TemplateResponse(request, "replies.html", {
            "rows": rows, "categories": CATEGORIES, "languages": LANGUAGES, "problem": problem,
            "flash": request.session.pop("flash", None), "placeholders": PLACEHOLDERS,
        }, status_code=status)

    def page(request: Request) -> Response:
        return listing(request)

    async def create(request: Request) -> Response:
        form = await checked_form(request)
        me = viewer(request)
        if not me.is_admin:
            return error_page(ctx, request, 403, _("Only admins keep reply templates."))
        try:
            name = text_value(form.get("name"), "name", MAX_NAME, label=N_("name"))
            body = text_value(form.get("body"), "body", MAX_BODY, lines=True, label=N_("text"))
            if not name or not body:
                raise InvalidInput(N_("template: give it a name and a text"))
            category = choice_param(form, "category", CATEGORIES,
                                    N_("category: unknown category %(value)s; use one of %(choices)s"))
            lang = choice_param(form, "lang", tuple(LANGUAGES),
                                N_("language: must be one of %(choices)s"), default="en")
        except InvalidInput as exc:
            return await run_in_threadpool(listing, request, translated(exc), 400)

        def save() -> None:
            with ctx.write.begin() as session:
                session.add(ReplyTemplate(name=name, category=category, lang=lang, body=body,
                                          created_by=me.email))
        await run_in_threadpool(save)
        log.info("event=reply_template_added name=%s category=%s lang=%s by=%s", shown(name), category, lang,
                 me.email)
        request.session["flash"] = _("Added the reply template %(name)s.", name=name)
        return RedirectResponse(REPLIES, status_code=303)

    async def delete(request: Request) -> Response:
        await checked_form(request)
        me = viewer(request)
        if not me.is_admin:
            return error_page(ctx, request, 403, _("Only admins keep reply templates."))
        template_id = path_id(request.path_params["template_id"])

        def remove() -> str | None:
            with ctx.write.begin() as session:
                found = session.get(ReplyTemplate, template_id) if template_id is not None else None
                if found is None:
                    return None
                session.delete(found)
                return found.name
        name = await run_in_threadpool(remove)
        if name is None:
            return error_page(ctx, request, 404, _("There is no reply template with the number %(number)s.",
                                                   number=shown(request.path_params["template_id"])),
                              back=REPLIES)
        log.info("event=reply_template_deleted name=%s by=%s", shown(name), me.email)
        request.session["flash"] = _("Deleted the reply template %(name)s.", name=name)
        return RedirectResponse(REPLIES, status_code=303)

    return [
        Route(REPLIES, page, methods=["GET"], name="replies"),
        Route(REPLIES, create, methods=["POST"], name="add_reply_template"),
        Route(REPLIES + "/{template_id}/delete", delete, methods=["POST"], name="delete_reply_template"),
    ]
