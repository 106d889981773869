"""Share links: one artifact, on its tenant's domain only, expiring within 7 days, optionally
limited to a number of uses, revocable at once. Only the sha256 of the token is stored; the
token itself is shown once, to whoever made the link."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db.models import F, Q
from django.utils import timezone

from accounts.models import User
from artifacts.models import Artifact, ShareLink
from backoffice.services import audit_record
from tenants.models import tenant_url

MAX_LIFETIME = dt.timedelta(days=7)
PATH_PREFIX = "/s/"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def share_link_make(
    *,
    artifact: Artifact,
    actor: User,
    expires_in: dt.timedelta,
    max_uses: int | None = None,
    ip_address: str | None = None,
) -> tuple[ShareLink, str]:
    """Make a link; returns it and its URL (the only time the token is known)."""
    if not dt.timedelta(0) < expires_in <= MAX_LIFETIME:
        raise ValueError("A share link expires within 7 days.")
    if max_uses is not None and max_uses < 1:
        raise ValueError("A use count is at least 1.")
    token = secrets.token_urlsafe(32)
    link = ShareLink.objects.create(
        artifact=artifact, token_hash=token_hash(token), created_by=actor,
        expires_at=timezone.now() + expires_in, max_uses=max_uses,
    )  # fmt: skip
    audit_record(
        actor=actor, action="artifact.share_link_make", tenant=artifact.tenant, obj=artifact,
        detail={"link": link.pk, "expires_at": link.expires_at.isoformat(), "max_uses": max_uses},
        ip_address=ip_address,
    )  # fmt: skip
    return link, tenant_url(artifact.tenant, f"{PATH_PREFIX}{token}")


def share_link_revoke(*, link: ShareLink, actor: User, ip_address: str | None = None) -> bool:
    revoked = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=actor
    )
    if revoked:
        audit_record(
            actor=actor, action="artifact.share_link_revoke", tenant=link.artifact.tenant,
            obj=link.artifact, detail={"link": link.pk}, ip_address=ip_address,
        )  # fmt: skip
    link.refresh_from_db()
    return bool(revoked)


def share_link_find(*, token: str, tenant_id: int) -> ShareLink | None:
    """The link with this token *on this tenant's domain*; another tenant's link, a tampered or
    unknown token: None, alike."""
    if not token or len(token) > 100:
        return None
    return (
        ShareLink.objects.select_related("artifact", "artifact__tenant")
        .filter(token_hash=token_hash(token), artifact__tenant_id=tenant_id)
        .first()
    )


def share_link_use(*, link: ShareLink, counts: bool) -> bool:
    """May this request go through the link now? A request starting at byte 0 is one use
    (claimed with a conditional update, so two at once cannot both take the last); resuming
    further in (Range) needs the link alive and used at least once, and takes no use."""
    now = timezone.now()
    alive = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True, expires_at__gt=now)
    if not counts:
        return alive.filter(uses__gt=0).exists()
    claimed = alive.filter(Q(max_uses__isnull=True) | Q(uses__lt=F("max_uses"))).update(
        uses=F("uses") + 1
    )
    return bool(claimed)
