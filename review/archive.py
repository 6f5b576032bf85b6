"""The client archive pages: organizations, one organization's contacts and items, one contact's items and
messages."""
from __future__ import annotations

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from db.models import Organization
from review import archive_queries as q
from review.context import Context
from review.guard import checked_form, viewer
from review.i18n import N_, _, translated
from review.org_settings import NAME_MAX, SettingsError, change_settings, log_changes
from review.pages import error_page
from review.params import InvalidInput, flag_param, page_param, path_id, shown, text_value
from review.sla_view import client_service

ORGANIZATIONS = "/organizations"
UNAFFILIATED = "/organizations/none"
NOT_FOUND_ORG = N_("There is no organization with the number %(number)s.")
NOT_FOUND_CONTACT = N_("There is no contact with the number %(number)s.")
MAX_TIER = 100  # longer than any tier a policy could name (organizations.tier holds 40)


def organization_url(organization_id: int | None, page: int = 1) -> str:
    """The path of organization ORGANIZATION_ID's page (None: contacts without one), on PAGE."""
    path = UNAFFILIATED if organization_id is None else f"{ORGANIZATIONS}/{organization_id}"
    return path if page == 1 else f"{path}?page={page}"


def contact_url(contact_id: int, page: int = 1, items: int = 1) -> str:
    """The path of contact CONTACT_ID's page, on message page PAGE and item page ITEMS."""
    params = [f"{name}={n}" for name, n in (("page", page), ("items", items)) if n != 1]
    return f"/contacts/{contact_id}" + ("?" + "&".join(params) if params else "")


def routes(ctx: Context) -> list[Route]:
    """The client archive's routes, bound to CTX."""

    def render(request: Request, template: str, values: dict[str, object], status: int = 200) -> Response:
        return ctx.templates.TemplateResponse(request, template, {
            **values, "organization_url": organization_url, "contact_url": contact_url,
        }, status_code=status)

    def bad_page(request: Request, exc: InvalidInput) -> Response:
        return error_page(ctx, request, 400, translated(exc), back=request.url.path)

    def organizations(request: Request) -> Response:
        me = viewer(request)
        with ctx.read() as session:
            rows = q.organization_rows(session, me.org_limit)
            loose = q.unaffiliated(session) if me.is_admin else None
        return render(request, "organizations.html", {"rows": rows, "unaffiliated": loose,
                                                      "is_admin": me.is_admin})

    def organization_page(request: Request, organization_id: int | None, problem: str = "",
                          status: int = 200) -> Response:
        me = viewer(request)
        if organization_id is None:
            visible = me.is_admin
            message = _("There is no page at this address.")
        else:
            visible = me.works_on(organization_id)
            message = _(NOT_FOUND_ORG, number=organization_id)
        if not visible:
            return error_page(ctx, request, 404, message, back=ORGANIZATIONS)
        try:
            page = page_param(request.query_params)
        except InvalidInput as exc:
            return bad_page(request, exc)
        with ctx.read() as session:
            org = None if organization_id is None else q.organization(session, organization_id)
            if organization_id is not None and org is None:
                return error_page(ctx, request, 404, message, back=ORGANIZATIONS)
            contacts = q.contact_rows(session, organization_id)
            items = q.organization_items(session, organization_id, page)

        def page_url(n: int) -> str:
            return organization_url(organization_id, n)

        service = None if org is None else client_service(org.tier, org.client_digest, ctx.sla)
        return render(request, "organization.html", {
            "org": org, "contacts": contacts, "items": items, "page_url": page_url, "service": service,
            "may_change": me.is_admin, "problem": problem, "flash": request.session.pop("flash", None),
        }, status)

    def one_organization(request: Request) -> Response:
        organization_id = path_id(request.path_params["id"])
        if organization_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND_ORG, number=shown(request.path_params["id"])),
                              back=ORGANIZATIONS)
        return organization_page(request, organization_id)

    def without_organization(request: Request) -> Response:
        return organization_page(request, None)

    async def save_settings(request: Request) -> Response:
        form = await checked_form(request)
        me = viewer(request)
        if not me.is_admin:
            return error_page(ctx, request, 403, _("Only admins change a client's tier and digest."),
                              back=ORGANIZATIONS)
        raw_id = request.path_params["organization_id"]
        organization_id = path_id(raw_id)
        if organization_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND_ORG, number=shown(raw_id)), back=ORGANIZATIONS)
        try:
            tier, digest = text_value(form.get("tier"), "tier", MAX_TIER), flag_param(form, "client_digest")
            display_name = text_value(form.get("name"), "name", NAME_MAX, label=N_("name"))
        except InvalidInput as exc:
            return organization_page(request, organization_id, translated(exc), status=400)
        try:
            with ctx.write.begin() as session:
                org = session.scalar(select(Organization).where(Organization.id == organization_id)
                                     .with_for_update())
                if org is None:
                    return error_page(ctx, request, 404, _(NOT_FOUND_ORG, number=organization_id),
                                      back=ORGANIZATIONS)
                changes = change_settings(org, tier, digest, ctx.sla, display_name)
                name, domain, policy = org.name or org.domain, org.domain, ctx.sla.for_tier(org.tier).name
        except SettingsError as exc:
            return organization_page(request, organization_id, translated(exc), status=400)
        log_changes(organization_id, domain, me.email, policy, changes)
        request.session["flash"] = (_("Nothing changed.") if not changes else
                                    _("Saved the settings of %(organization)s.",
                                      organization=name) if "name" in changes
                                    else _("Saved the service level of %(organization)s.", organization=name))
        return RedirectResponse(organization_url(organization_id), status_code=303)

    def contact_page(request: Request) -> Response:
        me = viewer(request)
        contact_id = path_id(request.path_params["id"])
        if contact_id is None:
            return error_page(ctx, request, 404, _(NOT_FOUND_CONTACT,
                                                   number=shown(request.path_params["id"])),
                              back=ORGANIZATIONS)
        with ctx.read() as session:
            person = q.contact(session, contact_id)
            allowed = person is not None and me.works_on(person.organization_id)
            if person is None or not allowed:
                return error_page(ctx, request, 404, _(NOT_FOUND_CONTACT, number=contact_id),
                                  back=ORGANIZATIONS)
            try:
                page = page_param(request.query_params)
                items_page = page_param(request.query_params, "items")
            except InvalidInput as exc:
                return bad_page(request, exc)
            items = q.contact_items(session, contact_id, items_page)
            messages = q.contact_messages(session, contact_id, page)
        return render(request, "contact.html", {
            "contact": person, "items": items, "messages": messages,
            "items_url": lambda n: contact_url(contact_id, page, n),
            "messages_url": lambda n: contact_url(contact_id, n, items_page),
        })

    return [
        Route(ORGANIZATIONS, organizations, methods=["GET"], name="organizations"),
        Route(UNAFFILIATED, without_organization, methods=["GET"], name="unaffiliated"),
        Route(ORGANIZATIONS + "/{id}", one_organization, methods=["GET"], name="organization"),
        Route(ORGANIZATIONS + "/{organization_id}/settings", save_settings, methods=["POST"],
              name="organization_settings"),
        Route("/contacts/{id}", contact_page, methods=["GET"], name="contact"),
    ]
