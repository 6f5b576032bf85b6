"""The admin's people pages: who works on which organizations, with which role, and who may sign in."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import USER_ROLES, Organization, User
from review.accounts import set_organizations
from review.context import Context
from review.guard import checked_form, viewer
from review.i18n import N_, Explained, _, translated
from review.pages import error_page
from review.params import path_id

PEOPLE = "/people"
NOT_FOUND = N_("There is no user with the number %(number)s.")


class PeopleError(Explained):
    """A change to a user that cannot be made as asked; the message says why (translated() for the page)."""


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))) or 0


def update_person(session: Session, user: User, role: str, active: bool, org_ids: set[int], by: int) -> None:
    """Sets USER's role, active flag and organizations; PeopleError when that would leave nobody to run the app."""
    if role not in USER_ROLES:
        raise PeopleError(N_("role: must be one of %(choices)s, not %(value)s"), choices=", ".join(USER_ROLES),
                          value=repr(role))
    organizations = list(session.scalars(select(Organization).where(Organization.id.in_(org_ids))))
    if len(organizations) != len(org_ids):
        raise PeopleError(N_("organizations: one of the chosen organizations no longer exists; reload the page"))
    losing_admin = user.role == "admin" and user.active and (role != "admin" or not active)
    if losing_admin and user.id == by:
        raise PeopleError(N_("You cannot remove your own admin rights or sign-in; ask another admin."))
    if losing_admin and _active_admins(session) <= 1:
        raise PeopleError(N_("This is the last active admin; make someone else admin first."))
    user.role, user.active = role, active
    if not active:
        user.session_epoch = (user.session_epoch or 0) + 1  # signed-in sessions end now, not at expiry
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

    def show(request: Request, user_id: int, problem: str = "", status: int = 200) -> Response:
        with ctx.read() as session:
            user = session.scalar(select(User).where(User.id == user_id).options(selectinload(User.organizations)))
            if user is None:
                return error_page(ctx, request, 404, _(NOT_FOUND, number=user_id), back=PEOPLE)
            organizations = list(session.scalars(select(Organization).order_by(Organization.name,
                                                                              Organization.domain)))
        return ctx.templates.TemplateResponse(request, "person.html", {
            "user": user, "organizations": organizations, "chosen": {o.id for o in user.organizations},
            "roles": USER_ROLES, "problem": problem}, status_code=status)

    def person(request: Request) -> Response:
        if (refusal := refused(request)) is not None:
            return refusal
        user_id = path_id(request.path_params["user_id"])
        if user_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=request.path_params["user_id"]), back=PEOPLE)
        return show(request, user_id)

    async def save(request: Request) -> Response:
        form = await checked_form(request)
        if (refusal := refused(request)) is not None:
            return refusal
        user_id = path_id(request.path_params["user_id"])
        if user_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND, number=request.path_params["user_id"]), back=PEOPLE)
        raw_ids = form.getlist("organization")
        if not all(isinstance(v, str) and path_id(v) is not None for v in raw_ids):
            return error_page(ctx, request, 400, _("organizations: expected organization numbers"), back=PEOPLE)
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

    return [
        Route(PEOPLE, people, methods=["GET"], name="people"),
        Route(PEOPLE + "/{user_id}", person, methods=["GET"], name="person"),
        Route(PEOPLE + "/{user_id}", save, methods=["POST"], name="person_save"),
    ]
