"""The admin's people pages: who works on which organizations, with which role, who may sign in, and each
person's sessions and API tokens."""
from __future__ import annotations

import logging

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import USER_ROLES, Organization, User
from db.types import utcnow
from review import account
from review.accounts import end_access, set_organizations
from review.context import Context
from review.guard import checked_form, current_session, sign_out, viewer
from review.i18n import N_, Explained, _, ngettext, translated
from review.pages import error_page
from review.params import path_id

log = logging.getLogger(__name__)
PEOPLE = "/people"
NOT_FOUND = N_("There is no user with the number %(number)s.")


class PeopleError(Explained):
    """A change to a user that cannot be made as asked; the message says why (translated() for the page)."""


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))) or 0


def update_person(session: Session, user: User, role: str, active: bool, org_ids: set[int], by: int) -> None:
    """Sets USER's role, active flag and organizations (disabling ends their sessions and revokes their API
    tokens); PeopleError when that would leave nobody to run the app."""
    if role not in USER_ROLES:
        raise PeopleError(N_("role: must be one of %(choices)s, not %(value)s"),
                          choices=", ".join(USER_ROLES),
                          value=repr(role))
    organizations = list(session.scalars(select(Organization).where(Organization.id.in_(org_ids))))
    if len(organizations) != len(org_ids):
        raise PeopleError(N_("organizations: one of the chosen organizations no longer exists; reload the "
                             "page"))
    losing_admin = user.role == "admin" and user.active and (role != "admin" or not active)
    if losing_admin and user.id == by:
        raise PeopleError(N_("You cannot remove your own admin rights or sign-in; ask another admin."))
    if losing_admin and _active_admins(session) <= 1:
        raise PeopleError(N_("This is the last active admin; make someone else admin first."))
    # signed-in sessions end now, not at expiry; tokens stay dead if re-enabled
    if user.active and not active:
        end_access(session, user.id, utcnow())
    user.role, user.active = role, active
    set_organizations(user, organizations)


def routes(ctx: Context) -> list[Route]:
    """The people routes, bound to CTX; admins only."""

    def refused(request: Request) -> Response | None:
        if not viewer(request).is_admin:
            return error_page(ctx, request, 403, _("Only admins manage people and their organizations."))
        return None

    def people(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        with ctx.read() as session:
            users = list(session.scalars(select(User).options(selectinload(User.organizations))
                                         .order_by(User.active.desc(), User.name, User.email)))
        return ctx.templates.TemplateResponse(request, "people.html", {
            "users": users, "flash": request.session.pop("flash", None)})

    def show(request: Request, user_id: int, problem: str = "", status: int = 200,
             new_token: str = "") -> Response:
        with ctx.read() as session:
            user = session.scalar(select(User).where(User.id == user_id)
                                  .options(selectinload(User.organizations)))
            if user is None:
                return error_page(ctx, request, 404, _(NOT_FOUND, number=user_id), back=PEOPLE)
            organizations = list(session.scalars(select(Organization).order_by(Organization.name,
                                                                              Organization.domain)))
            access = account.access_of(session, user_id, utcnow())
        opened = current_session(request)
        response = ctx.templates.TemplateResponse(request, "person.html", {
            "user": user, "organizations": organizations, "chosen": {o.id for o in user.organizations},
            "roles": USER_ROLES, "problem": problem, "access": access,
            "current": opened.id if opened else None,
            "lifetimes": account.TOKEN_LIFETIMES, "new_token": new_token,
            "flash": request.session.pop("flash", None),
        }, status_code=status)
        if new_token:
            response.headers["cache-control"] = "no-store"
        return response

    def person(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        user_id = path_id(request.path_params["user_id"])
        if user_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=request.path_params["user_id"]),
                              back=PEOPLE)
        return show(request, user_id)

    async def save(request: Request) -> Response:
        form = await checked_form(request)
        if (refusal := refused(request)) is not None:
            return refusal
        user_id = path_id(request.path_params["user_id"])
        if user_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=request.path_params["user_id"]),
                              back=PEOPLE)
        raw_ids = form.getlist("organization")
        if not all(isinstance(v, str) and path_id(v) is not None for v in raw_ids):
            return error_page(ctx, request, 400, _("organizations: expected organization numbers"),
                              back=PEOPLE)
        try:
            with ctx.write.begin() as session:
                user = session.scalar(select(User).where(User.id == user_id)
                                      .options(selectinload(User.organizations)).with_for_update(of=User))
                if user is None:
                    return error_page(ctx, request, 404, _(NOT_FOUND, number=user_id), back=PEOPLE)
                update_person(session, user, str(form.get("role", "")), form.get("active") == "1",
                              {int(str(v)) for v in raw_ids}, viewer(request).id)
                label = user.name or user.email
        except PeopleError as exc:
            return show(request, user_id, translated(exc), status=400)
        request.session["flash"] = _("Saved %(person)s.", person=label)
        return RedirectResponse(PEOPLE, status_code=303)

    async def target(request: Request) -> tuple[int, FormData] | Response:
        """The person a session or token form is about and the form, once the form and the admin are checked;
        else the response that refuses it."""
        form = await checked_form(request)
        if (refusal := refused(request)) is not None:
            return refusal
        user_id = path_id(request.path_params["user_id"])
        if user_id is None or not await run_in_threadpool(exists, user_id):
            return error_page(ctx, request, 404, _(NOT_FOUND, number=request.path_params["user_id"]),
                              back=PEOPLE)
        return user_id, form

    def exists(user_id: int) -> bool:
        with ctx.read() as session:
            return session.get(User, user_id) is not None

    def back_to(user_id: int) -> Response:
        return RedirectResponse(f"{PEOPLE}/{user_id}", status_code=303)

    async def end_sessions(request: Request) -> Response:
        found = await target(request)
        if isinstance(found, Response):
            return found
        user_id, me = found[0], viewer(request)
        ended = await run_in_threadpool(account.end_all, ctx, user_id)
        log.info("event=sessions_ended user=%s count=%s by=%s", user_id, ended, me.email)
        if user_id == me.id:  # an admin who ends their own sessions is signed out too
            sign_out(request)
            return RedirectResponse("/login", status_code=303)
        request.session["flash"] = ngettext("Signed out %(num)s session.", "Signed out %(num)s sessions.",
                                            ended)
        return back_to(user_id)

    async def end_session(request: Request) -> Response:
        found = await target(request)
        if isinstance(found, Response):
            return found
        user_id, me, opened = found[0], viewer(request), current_session(request)
        session_id = path_id(request.path_params["session_id"])
        if session_id is None or not await run_in_threadpool(account.end_one, ctx, user_id, session_id):
            return error_page(ctx, request, 404, _(account.NO_SESSION,
                                                   number=request.path_params["session_id"]),
                              back=f"{PEOPLE}/{user_id}")
        log.info("event=session_ended user=%s session=%s by=%s", user_id, session_id, me.email)
        if opened is not None and opened.id == session_id:
            sign_out(request)
            return RedirectResponse("/login", status_code=303)
        request.session["flash"] = _("That session is signed out.")
        return back_to(user_id)

    async def new_token(request: Request) -> Response:
        found = await target(request)
        if isinstance(found, Response):
            return found
        user_id, form = found
        try:
            name, lifetime = account.token_request(form)
        except account.AccountInput as exc:
            return await run_in_threadpool(show, request, user_id, translated(exc), 400)
        token = await run_in_threadpool(account.create_token, ctx, user_id, name, lifetime)
        log.info("event=token_created user=%s by=%s", user_id, viewer(request).email)
        # Shown in this response and never again: no redirect, so the token is in no URL, cookie or table.
        return await run_in_threadpool(show, request, user_id, "", 200, token or "")

    async def revoke_token(request: Request) -> Response:
        found = await target(request)
        if isinstance(found, Response):
            return found
        user_id = found[0]
        token_id = path_id(request.path_params["token_id"])
        if token_id is None or not await run_in_threadpool(account.revoke, ctx, user_id, token_id):
            return error_page(ctx, request, 404, _(account.NO_TOKEN, number=request.path_params["token_id"]),
                              back=f"{PEOPLE}/{user_id}")
        log.info("event=token_revoked user=%s token=%s by=%s", user_id, token_id, viewer(request).email)
        request.session["flash"] = _("API token %(number)s is revoked; it no longer works.", number=token_id)
        return back_to(user_id)

    return [
        Route(PEOPLE, people, methods=["GET"], name="people"),
        Route(PEOPLE + "/{user_id}", person, methods=["GET"], name="person"),
        Route(PEOPLE + "/{user_id}", save, methods=["POST"], name="person_save"),
        Route(PEOPLE + "/{user_id}/sessions/end", end_sessions, methods=["POST"], name="person_end_sessions"),
        Route(PEOPLE + "/{user_id}/sessions/{session_id}/end", end_session, methods=["POST"],
              name="person_end_session"),
        Route(PEOPLE + "/{user_id}/tokens", new_token, methods=["POST"], name="person_new_token"),
        Route(PEOPLE + "/{user_id}/tokens/{token_id}/revoke", revoke_token, methods=["POST"],
              name="person_revoke_token"),
    ]
