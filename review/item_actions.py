"""The forms that change items: category, assign, status, note, reply, follow-up, assessment, and bulk
changes."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.workflow import CONFIRMED_MOVES, next_statuses
from review import actions
from review.actions import ActionError, NotFound, Outgoing
from review.confirm import bulk_action_text, confirm_page, visible_item
from review.context import Context
from review.corrections import Correction, correct_category
from review.guard import checked_form, safe_next, viewer
from review.i18n import N_, _, ngettext, translated
from review.pages import error_page
from review.params import InvalidInput, field_id, flag_param, item_ref, parse_category, shown, text_value
from review.present import item_url, label_text
from review.viewer import Viewer

log = logging.getLogger(__name__)
Handler = Callable[[Viewer, str, FormData], str]
MAX_BULK = 200
CONFIRM_ABOVE = 5  # bulk changes of more items than this are confirmed on a second page


def send_outbox_quietly(ctx: Context) -> None:
    """Sends the outbox now if the app can; a failure is logged and left to the worker's retries."""
    if ctx.send_outbox is None:
        return
    try:
        ctx.send_outbox()
    except Exception as exc:  # the worker retries; the PM's action is already saved
        log.warning("event=outbox_send_failed error=%s", exc.__class__.__name__)


def _correct(ctx: Context, me: Viewer, ref: str, category: str) -> Correction:
    try:
        category = parse_category(category)
    except InvalidInput as exc:
        raise ActionError(exc.message, local=exc.local, **exc.values) from None
    result = correct_category(ctx.write, ref, category, me.email, me.item_filter(), ctx.client_mail)
    if result is None:
        raise NotFound(ref)
    return result


def _copies(form: FormData) -> list[str]:
    """The participants ticked as copies (cc fields); the action checks that each one is a participant."""
    return [str(value) for value in form.getlist("cc")]


def _apply_all(refs: list[str], apply: Callable[[str], object]) -> tuple[int, list[str]]:
    """Applies APPLY to each item on its own: one item's refusal does not undo the others.
    The problems are lines for the page, in the request's language."""
    done, problems = 0, []
    for ref in refs:
        if item_ref(ref) is None:  # no item has such a reference: it never reaches a query
            problems.append(_("%(ref)s: no such item", ref=shown(ref)))
            continue
        try:
            apply(ref)
            done += 1
        except NotFound:
            problems.append(_("%(ref)s: no such item", ref=ref))
        except ActionError as exc:
            problems.append(_("%(ref)s: %(problem)s", ref=ref, problem=translated(exc)))
    return done, problems


def routes(ctx: Context) -> list[Route]:
    """POST routes under /items/{ref}/..., bound to CTX; each answers with a redirect to the item page."""
    out = Outgoing(ctx.settings.from_address, ctx.settings.team, client=ctx.client_mail,
                   team_names=ctx.settings.team_names)

    def action(handler: Handler, sends: bool = False,
               confirm: Callable[[Request, str, FormData], Awaitable[Response | None]] | None = None,
               ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            raw_ref = request.path_params["ref"]
            form = await checked_form(request)
            ref = item_ref(raw_ref)
            try:
                if ref is None:
                    raise NotFound(raw_ref)
                if confirm is not None and form.get("confirm") != "1":
                    asked = await confirm(request, ref, form)
                    if asked is not None:
                        return asked
                done = await run_in_threadpool(handler, viewer(request), ref, form)
            except NotFound:
                return error_page(ctx, request, 404, _("There is no item with the reference %(ref)s.",
                                                       ref=ref or shown(raw_ref)))
            except (ActionError, InvalidInput) as exc:
                return error_page(ctx, request, 400, translated(exc), back=item_url(ref))
            # The next page says what happened, in the language of the person who acted.
            request.session["flash"] = str(done)
            task = BackgroundTask(send_outbox_quietly, ctx) if sends else None
            return RedirectResponse(item_url(ref), status_code=303, background=task)
        return endpoint

    async def confirm_move(request: Request, ref: str, form: FormData) -> Response | None:
        """The confirmation page before a move that ends the work or turns the client down; None for
        others."""
        to = str(form.get("status", "")).strip()
        if to not in CONFIRMED_MOVES:
            return None
        me = viewer(request)

        def read() -> tuple[str, str, str] | None:
            with ctx.read() as session:
                item = visible_item(session, ref, me)
                return None if item is None else (item.subject, item.category, item.status)
        found = await run_in_threadpool(read)
        if found is None:
            raise NotFound(ref)
        subject, category, status = found
        if to not in next_statuses(category, status):
            return None  # refused by the workflow, with its reason, without asking first
        question = (_("Reject %(ref)s?", ref=ref) if to == "rejected" else _("Close %(ref)s?", ref=ref))
        consequence = (_("The change request is recorded as rejected and its resolution clock stops. The "
                         "client gets the update email for a rejection (when updates are on); tell them why "
                         "in a reply.")
                       if to == "rejected" else
                       _("The item is closed and its resolution clock stops."))
        return confirm_page(ctx, request, question=question,
                            details=[subject or _("(no subject)"), consequence],
                            action=f"{item_url(ref)}/status", fields=[("status", to)],
                            button=_("Yes, reject") if to == "rejected" else _("Yes, close"),
                            back=item_url(ref))

    def category(me: Viewer, ref: str, form: FormData) -> str:
        result = _correct(ctx, me, ref, str(form.get("category", "")))
        if not result.changed:
            return _("Category confirmed: %(category)s.", category=label_text(result.new))
        return _("Category changed from %(old)s to %(new)s.", old=label_text(result.old),
                 new=label_text(result.new))

    def assign(me: Viewer, ref: str, form: FormData) -> str:
        raw = form.get("assignee", "")
        person = field_id(raw)
        if person is None and (not isinstance(raw, str) or raw.strip()):  # empty: nobody
            raise ActionError(N_("assignee: choose a person from the list"))
        email = actions.assign(ctx.write, me, ref, person)
        return _("Assigned to %(person)s.", person=email) if email else _("Assigned to nobody.")

    def status(me: Viewer, ref: str, form: FormData) -> str:
        to = str(form.get("status", "")).strip()
        if not to:  # the list's neutral first choice
            raise ActionError(N_("status: choose where to move the item first"))
        old = actions.change_status(ctx.write, me, ref, to, client=ctx.client_mail, alerts=ctx.alerts)
        return _("Moved from %(old)s to %(new)s.", old=label_text(old), new=label_text(to))

    def note(me: Viewer, ref: str, form: FormData) -> str:
        text = text_value(form.get("text"), "note", actions.MAX_TEXT, lines=True,
                          label=actions.FIELDS["note"])
        actions.add_note(ctx.write, me, ref, text)
        return _("Note added.")

    def follow_up(me: Viewer, ref: str, form: FormData) -> str:
        on = flag_param(form, "on")
        actions.set_follow_up(ctx.write, me, ref, on)
        return _("Flagged for follow-up.") if on else _("Follow-up cleared.")

    def reply(me: Viewer, ref: str, form: FormData) -> str:
        text = text_value(form.get("text"), "reply", actions.MAX_TEXT, lines=True,
                          label=actions.FIELDS["reply"])
        actions.reply(ctx.write, me, ref, text, out, _copies(form))
        return _("Reply sent to the client.")

    def assess(me: Viewer, ref: str, form: FormData) -> str:
        scope, cost, schedule = (text_value(form.get(name), name, actions.MAX_TEXT, lines=True,
                                            label=actions.FIELDS.get(name, ""))
                                 for name in ("scope", "cost", "schedule"))
        actions.save_assessment(ctx.write, me, ref, scope, cost, schedule)
        return _("Assessment saved; send it to the client for approval.")

    def send_assessment(me: Viewer, ref: str, form: FormData) -> str:
        actions.send_assessment(ctx.write, me, ref, out, _copies(form))
        return _("Assessment sent to the client for approval.")

    async def status_link(request: Request) -> Response:
        raw_ref = request.path_params["ref"]
        await checked_form(request)
        ref = item_ref(raw_ref)
        base = ctx.client_mail.base_url if ctx.client_mail is not None else ""
        try:
            if ref is None:
                raise NotFound(raw_ref)
            url, _revoked = await run_in_threadpool(actions.new_status_link, ctx.write, viewer(request), ref,
                                                    base)
        except NotFound:
            return error_page(ctx, request, 404, _("There is no item with the reference %(ref)s.",
                                                   ref=ref or shown(raw_ref)))
        # Shown this once: only the token's hash is kept.
        request.session["flash"] = _("New link to the client's status page (shown only now; earlier links no "
                                     "longer work): %(url)s", url=url)
        return RedirectResponse(item_url(ref), status_code=303)

    async def bulk(request: Request) -> Response:
        form = await checked_form(request)
        back = safe_next(str(form.get("back", "/")))
        refs = list(dict.fromkeys(str(r) for r in form.getlist("ref")))[:MAX_BULK]
        kind, _colon, value = str(form.get("action", "")).partition(":")
        me = viewer(request)
        handlers: dict[str, Callable[[str], object]] = {
            "category": lambda ref: _correct(ctx, me, ref, value),
            "assign": lambda ref: assign(me, ref, FormData({"assignee": value})),
            "status": lambda ref: actions.change_status(ctx.write, me, ref, value, client=ctx.client_mail,
                                                        alerts=ctx.alerts),
        }
        if not kind and refs:  # the list's neutral first choice
            request.session["flash"] = _("Choose what to do with the selected items first.")
            return RedirectResponse(back, status_code=303)
        if kind not in handlers:
            return error_page(ctx, request, 400, _("action: choose what to do with the selected items"),
                              back=back)
        if not refs:
            request.session["flash"] = _("Select at least one item first.")
            return RedirectResponse(back, status_code=303)
        risky = kind == "status" and value in CONFIRMED_MOVES
        if (len(refs) > CONFIRM_ABOVE or risky) and form.get("confirm") != "1":
            what = await run_in_threadpool(bulk_action_text, ctx, kind, value)
            return confirm_page(
                ctx, request,
                question=ngettext("Change %(num)s item?", "Change %(num)s items?", len(refs)),
                details=[_("With the selected items: %(action)s", action=what), ", ".join(refs)],
                action="/bulk", fields=[("action", f"{kind}:{value}"),
                                        ("back", back)] + [("ref", r) for r in refs],
                button=ngettext("Yes, change %(num)s item", "Yes, change %(num)s items", len(refs)),
                back=back)
        done, problems = await run_in_threadpool(_apply_all, refs, handlers[kind])
        # The flash is shown by the next page; it is written in the language of the person who acted.
        note = ngettext("%(done)s of %(num)s item changed.", "%(done)s of %(num)s items changed.", len(refs),
                        done=done)
        if problems:
            listed = _("; ").join(problems[:5]) + (" …" if len(problems) > 5 else "")
            note = _("%(summary)s Not changed: %(problems)s", summary=note, problems=listed)
        request.session["flash"] = note
        return RedirectResponse(back, status_code=303)

    return [
        Route("/bulk", bulk, methods=["POST"], name="bulk"),
        Route("/items/{ref}/category", action(category, sends=True), methods=["POST"],
              name="change_category"),
        Route("/items/{ref}/assign", action(assign), methods=["POST"], name="assign"),
        Route("/items/{ref}/status", action(status, sends=True, confirm=confirm_move), methods=["POST"],
              name="change_status"),
        Route("/items/{ref}/note", action(note), methods=["POST"], name="add_note"),
        Route("/items/{ref}/follow-up", action(follow_up), methods=["POST"], name="follow_up"),
        Route("/items/{ref}/reply", action(reply, sends=True), methods=["POST"], name="reply"),
        Route("/items/{ref}/status-link", status_link, methods=["POST"], name="new_status_link"),
        Route("/items/{ref}/assessment", action(assess), methods=["POST"], name="assess"),
        Route("/items/{ref}/assessment/send", action(send_assessment, sends=True), methods=["POST"],
              name="send_assessment"),
    ]
