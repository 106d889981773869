"""Who may do what with an artifact: the one rule table, read by the portal, the admin and the
share links alike (and by the backups, reports and import/export features after them).

    | Action                                     | Owner | Member | Viewer | Operator |
    | see / download an artifact for members     |   ✓   |   ✓    |   ✓    |    ✓     |
    | see / download an owners-only artifact     |   ✓   |   —    |   —    |    ✓     |
    | make or revoke a share link                |   ✓   |   —    |   —    |    ✓     |
    | ask for a backup, report or export now     |   ✓*  |   —    |   —    |    ✓     |
    | verify, restore, restore as new, legal hold|   —   |   —    |   —    |    ✓     |

    * rate-limited: by the features that add "ask now" (reports, backups, exports)

A role comes from the request: a tenant member's membership on that tenant's domain, or a staff
user's group in the admin. A share link is not a role: it stands for one artifact, and is
checked by artifacts.links; the link's maker had SHARE when they made it.
"""

from __future__ import annotations

from enum import StrEnum

from django.contrib.auth.models import AnonymousUser

from accounts.models import User
from artifacts.models import Artifact
from tenants.models import Membership


class Role(StrEnum):
    OWNER = "owner"
    MEMBER = "member"
    VIEWER = "viewer"
    OPERATOR = "operator"
    NONE = "none"


class Action(StrEnum):
    DOWNLOAD = "download"  # also: see it listed
    SHARE = "share"
    REQUEST = "request"
    MANAGE = "manage"  # verify, restore, restore as new, legal hold


_EVERYONE = frozenset({Role.OWNER, Role.MEMBER, Role.VIEWER, Role.OPERATOR})
RULES: dict[tuple[Action, str], frozenset[Role]] = {
    (Action.DOWNLOAD, Artifact.Audience.MEMBERS): _EVERYONE,
    (Action.DOWNLOAD, Artifact.Audience.OWNERS): frozenset({Role.OWNER, Role.OPERATOR}),
    (Action.SHARE, Artifact.Audience.MEMBERS): frozenset({Role.OWNER, Role.OPERATOR}),
    (Action.SHARE, Artifact.Audience.OWNERS): frozenset({Role.OWNER, Role.OPERATOR}),
}
# Actions on a tenant rather than on one artifact.
TENANT_RULES: dict[Action, frozenset[Role]] = {
    Action.REQUEST: frozenset({Role.OWNER, Role.OPERATOR}),
    Action.MANAGE: frozenset({Role.OPERATOR}),
}


def role_of_member(membership: Membership | None) -> Role:
    if membership is None:
        return Role.NONE
    return Role.OWNER if membership.role == Membership.Role.OWNER else Role.MEMBER


def role_of_staff(user: User | AnonymousUser) -> Role:
    """Operators change artifacts (their group's permissions); viewers only view them."""
    if not (user.is_active and user.is_staff):
        return Role.NONE
    if user.has_perm("artifacts.change_artifact"):
        return Role.OPERATOR
    if user.has_perm("artifacts.view_artifact"):
        return Role.VIEWER
    return Role.NONE


def artifact_allows(role: Role, action: Action, artifact: Artifact) -> bool:
    return role in RULES.get((action, artifact.audience), frozenset())


def tenant_allows(role: Role, action: Action) -> bool:
    return role in TENANT_RULES.get(action, frozenset())


def audiences_visible(role: Role) -> list[str]:
    """The audiences whose artifacts this role sees listed (a queryset filter)."""
    return [
        audience
        for audience in Artifact.Audience.values
        if role in RULES[(Action.DOWNLOAD, audience)]
    ]
