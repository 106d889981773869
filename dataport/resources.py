"""The members resource. It lives here, not in `tenants` beside Membership: importing members
queues invitation jobs, and `tenants` sits below the task framework (`jobs`)."""

from __future__ import annotations

import secrets
from array import array
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection
from django.db.models import QuerySet
from django.db.models.functions import Lower
from import_export import fields, resources

from accounts.models import User
from saas.rowresult import RowResult
from tenants.models import Membership, Tenant

INVITE_BATCH = 500
ROLES = tuple(Membership.Role.values)


class MemberResource(resources.ModelResource):
    """email, name, role. Importing adds memberships to *this* tenant only: a new email gets a
    global user with an unusable password (and an invitation, after the commit); an existing
    user is linked as they are: their name, password and other tenants are never touched."""

    resource_name = "members"
    resource_title = "Members"
    importable = True
    import_key = "email"
    import_key_casefold = True
    import_required = ("email",)

    email = fields.Field(attribute="user__email", column_name="email")
    full_name = fields.Field(column_name="name")
    role = fields.Field(attribute="role", column_name="role")

    class Meta:
        model = Membership
        fields = ("email", "full_name", "role")
        export_order = ("email", "full_name", "role")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._owners_demoted: set[int] = set()
        self._owners_added = 0
        # The people to invite once the import commits: 8 bytes each (a list of ints took 36,
        # a third of the process at a million rows), and none kept when invitations are off.
        self._invite = array("q")

    def dehydrate_full_name(self, membership: Membership) -> str:
        return membership.user.get_full_name()

    def export_rows(self, *, tenant: Tenant) -> QuerySet[Membership]:
        return (
            Membership.objects.filter(tenant=tenant)
            .select_related("user")
            .order_by("user__email", "pk")
        )

    def import_chunk(
        self, *, tenant: Tenant, rows: list[tuple[int, dict[str, str]]], dry_run: bool
    ) -> list[RowResult]:
        results: list[RowResult] = []
        valid: list[tuple[RowResult, str, str, str]] = []
        for number, row in rows:
            result, email, name, role = self._row_check(number, row)
            results.append(result)
            if not result.errors:
                valid.append((result, email, name, role))
        emails = [email for _, email, _, _ in valid]
        # Three queries per chunk, whatever its size (the case-insensitive unique index on
        # lower(email) serves the first).
        users: dict[str, int] = dict(User.objects.annotate(email_ci=Lower("email"))
                                     .filter(email_ci__in=emails).values_list("email_ci", "pk"))  # fmt: skip
        taken = set(User.objects.filter(username__in=[e for e in emails if e not in users])
                    .values_list("username", flat=True))  # fmt: skip
        held = {m.user_id: m for m in Membership.objects.filter(
            tenant=tenant, user_id__in=users.values()).only("pk", "user_id", "role")}  # fmt: skip
        new_users: list[tuple[str, str]] = []  # (email, name) of accounts to make
        new_members: list[tuple[str, str]] = []  # (email, role) of memberships to add
        changed: list[Membership] = []
        for result, email, name, role in valid:
            user = users.get(email)
            if user is None and email in taken:
                result.action = "error"
                result.errors.append(("email", "Another account uses this email as its user name."))
                continue
            membership = held.get(user) if user is not None else None
            if membership is None:
                result.action = "new"
                result.changes = {"role": [None, role]}
                if user is None:
                    new_users.append((email, name))
                new_members.append((email, role))
                self._owners_added += role == Membership.Role.OWNER
            elif membership.role != role:
                result.action = "changed"
                result.changes = {"role": [membership.role, role]}
                if membership.role == Membership.Role.OWNER:
                    self._owners_demoted.add(membership.pk)
                membership.role = role
                changed.append(membership)
            else:
                result.action = "unchanged"
        if not dry_run:
            self._write(tenant, users, new_users, new_members, changed)
        return results

    def _row_check(self, number: int, row: dict[str, str]) -> tuple[RowResult, str, str, str]:
        email = row.get("email", "").strip().lower()
        name = " ".join(row.get("name", "").split())
        role = (row.get("role") or Membership.Role.MEMBER).strip().lower()
        result = RowResult(row=number, action="error", key=email)
        if not email:
            result.errors.append(("email", "The email is empty."))
        else:
            try:
                validate_email(email)
            except ValidationError:
                result.errors.append(("email", f"“{email}” is not an email address."))
            if len(email) > 150:
                result.errors.append(("email", "An email of at most 150 characters."))
        if role not in ROLES:
            result.errors.append(("role", f"“{role}” is not a role: use {' or '.join(ROLES)}."))
        if len(name) > 300:
            result.errors.append(("name", "A name of at most 300 characters."))
        return result, email, name, role

    def _write(
        self, tenant: Tenant, users: dict[str, int], new_users: list[tuple[str, str]],
        new_members: list[tuple[str, str]], changed: list[Membership],
    ) -> None:  # fmt: skip
        """One INSERT per table and chunk, its rows as arrays (`unnest`): Django's bulk_create
        prepares every value of every row in Python, which was most of an import's time.
        Like bulk_create, no model signals: neither model has receivers on creation."""
        if new_users:
            names = [name.partition(" ") for _, name in new_users]
            # What set_unusable_password() stores, from one call to the OS's random source
            # (make_password(None) makes 40).
            passwords = [UNUSABLE_PASSWORD_PREFIX + secrets.token_urlsafe(30) for _ in new_users]
            emails = [email for email, _ in new_users]
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {User._meta.db_table} (password, is_superuser, username, "
                    "first_name, last_name, email, is_staff, is_active, date_joined) "
                    "SELECT p, false, e, f, l, e, false, true, now() "
                    "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[]) AS r(p, e, f, l) "
                    "RETURNING email, id",
                    [passwords, emails, [n[0][:150] for n in names], [n[2][:150] for n in names]],
                )
                users.update(cursor.fetchall())
        if new_members:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {Membership._meta.db_table} (user_id, tenant_id, role, created_at) "
                    "SELECT u, %s, r, now() FROM unnest(%s::bigint[], %s::text[]) AS m(u, r)",
                    [tenant.pk, [users[email] for email, _ in new_members],
                     [role for _, role in new_members]],
                )  # fmt: skip
        if changed:
            Membership.objects.bulk_update(changed, ["role"])
        if settings.DATAPORT_INVITE_ON_IMPORT:
            self._invite.extend(users[email] for email, _ in new_members)

    def import_end(self, *, tenant: Tenant, dry_run: bool) -> str:
        owners = Membership.objects.filter(tenant=tenant, role=Membership.Role.OWNER).count()
        if dry_run:
            owners = owners - len(self._owners_demoted) + self._owners_added
        if owners < 1:
            return f"This import would leave {tenant.name} without an owner: keep one."
        if not dry_run and settings.DATAPORT_INVITE_ON_IMPORT:
            from dataport.tasks import member_invitations_send_task
            from jobs.api import task_enqueue

            for i in range(0, len(self._invite), INVITE_BATCH):
                batch = self._invite[i : i + INVITE_BATCH].tolist()
                # task_enqueue inside the import's transaction: sent on its commit, never on
                # a rollback.
                task_enqueue(
                    member_invitations_send_task, tenant=tenant, kwargs={"user_ids": batch}
                )
        return ""


RESOURCES = [MemberResource]
