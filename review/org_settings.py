"""An organization's SLA settings, changed by admins: its client tier and whether its contacts get the
digest."""
from __future__ import annotations

import logging

from db.models import Organization
from reports.policy import SlaPolicies
from review.i18n import N_, Explained
from review.sla_view import tier_choices

TIER_MAX = 40  # organizations.tier's length
NAME_MAX = 300  # organizations.name's length
log = logging.getLogger(__name__)


class SettingsError(Explained):
    """An organization setting that cannot be made as asked; the message says why (translated() for the
    page)."""


def check_tier(raw: str, current: str, policies: SlaPolicies) -> str:
    """RAW as a tier the policies name, "" for none, or CURRENT unchanged (kept even when the config no
    longer names it); SettingsError otherwise."""
    tier = raw.strip()
    if not tier or tier == current:
        return tier
    known = [t for t, _policy in tier_choices(policies)]
    if not known:
        raise SettingsError(N_("tier: the SLA policies name no tiers, so %(value)s cannot be set"),
                            value=repr(tier))
    if tier not in known:
        raise SettingsError(N_("tier: unknown tier %(value)s; choose one of %(choices)s, or none"),
                            value=repr(tier), choices=", ".join(known))
    if len(tier) > TIER_MAX:
        raise SettingsError(N_("tier: %(value)s is longer than %(max)s characters; rename it in the config "
                               "file"),
                            value=repr(tier), max=TIER_MAX)
    return tier


def change_settings(org: Organization, raw_tier: str, digest: bool,
                    policies: SlaPolicies, name: str = "") -> dict[str, tuple[object, object]]:
    """Sets ORG's display NAME (unchanged when empty), tier (checked against POLICIES) and client digest;
    returns what changed, (old, new) by name."""
    tier = check_tier(raw_tier, org.tier, policies)
    changes: dict[str, tuple[object, object]] = {}
    if name and name != org.name:
        changes["name"] = (org.name, name)
        org.name = name
    if tier != org.tier:
        changes["tier"] = (org.tier, tier)
        org.tier = tier
    if digest != org.client_digest:
        changes["client_digest"] = (org.client_digest, digest)
        org.client_digest = digest
    return changes


def log_changes(org_id: int, domain: str, by: str, policy: str,
                changes: dict[str, tuple[object, object]]) -> None:
    """Records, once committed, who changed what of an organization (organizations have no event history of
    their own); POLICY is the one its new items get now."""
    if changes:
        details = " ".join(f'{name}_from="{old}" {name}_to="{new}"' for name, (old, new) in changes.items())
        log.info("event=organization_settings_changed organization=%d domain=%s by=%s policy=%s %s",
                 org_id, domain, by, policy, details)
