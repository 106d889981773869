"""Telling a tenant's report recipients that a report is stored: an email with a link to the
portal's Downloads on the tenant's configured domain, never the PDF attached (the download
checks who asks, and is audited; an attachment would be neither)."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.mail import send_mass_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from artifacts.models import Artifact
from reports.models import ReportRecipient
from tenants.models import Tenant, tenant_url

MAX_RECIPIENTS = 20


def report_recipients() -> list[str]:
    """The recipients of the tenant whose schema the connection is in."""
    return list(ReportRecipient.objects.values_list("email", flat=True))


def report_recipients_clean(text: str) -> list[str]:
    """Addresses from a textarea (one a line, or separated by commas or spaces), lower-cased,
    without duplicates; ValidationError naming the first bad one."""
    emails: list[str] = []
    for raw in text.replace(",", " ").split():
        email = raw.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"“{raw[:100]}” is not an email address.") from None
        if email not in emails:
            emails.append(email)
    if len(emails) > MAX_RECIPIENTS:
        raise ValidationError(f"At most {MAX_RECIPIENTS} recipients.")
    return emails


@transaction.atomic
def report_recipients_set(*, emails: Iterable[str]) -> list[str]:
    """Replace the recipients of the connection's tenant with `emails` (cleaned already)."""
    wanted = list(emails)
    ReportRecipient.objects.exclude(email__in=wanted).delete()
    have = set(ReportRecipient.objects.values_list("email", flat=True))
    ReportRecipient.objects.bulk_create([ReportRecipient(email=e) for e in wanted if e not in have])
    return report_recipients()


def report_deliver(*, tenant: Tenant, title: str) -> int:
    """Email every recipient of `tenant` (read in its schema) that `title` is ready; returns
    how many were sent. The link is built from the tenant's primary domain, never a request's
    Host header."""
    recipients = report_recipients()
    if not recipients:
        return 0
    url = tenant_url(tenant, reverse("portal:downloads", urlconf="saas.urls_tenant"))
    body = render_to_string(
        "reports/email/report_ready.txt", {"tenant": tenant, "title": title, "url": url}
    )
    subject = f"{tenant.name}: {title} is ready"
    # One message each: recipients do not see one another's addresses.
    return send_mass_mail([(subject, body, None, [email]) for email in recipients])


def report_deliver_for(*, tenant: Tenant, artifact_id: int) -> int:
    """Tell `tenant`'s recipients that its stored report `artifact_id` is ready (the delivery
    job's body). A report of another tenant is refused: the id comes from a message."""
    artifact = Artifact.objects.filter(
        pk=artifact_id, tenant_id=tenant.pk, kind=Artifact.Kind.REPORT
    ).first()
    if artifact is None:
        raise Artifact.DoesNotExist(
            f"No report #{artifact_id} of tenant {tenant.slug} to tell its recipients about "
            "(another tenant's file, or not a report): nobody was emailed."
        )
    return report_deliver(tenant=tenant, title=artifact.title)
