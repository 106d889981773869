"""People in the platform admin. Here, at the top, because a person's page shows their
memberships (tenants) and the staff roles (backoffice)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.admin import ModelAdmin, TabularInline
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

from accounts.models import User
from backoffice.admin_base import AuditedAdminMixin
from backoffice.services import audit_record_request
from backoffice.sites import staff_site
from backoffice.two_factor import two_factor_enrolled, two_factor_reset
from tenants.models import Membership


class MembershipInline(TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    autocomplete_fields = ["tenant"]


@admin.register(User, site=staff_site)
class StaffUserAdmin(AuditedAdminMixin, UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    """People. Operators manage tenant users; only superusers touch staff accounts, roles and
    permissions (an operator could otherwise make themselves superuser, or take over a staff
    account by setting its password)."""

    inlines = [MembershipInline]
    list_display = ["username", "email", "is_staff", "two_factor", "is_active", "last_login"]
    actions = ["two_factor_reset"]
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),
    )
    PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly += self.PRIVILEGE_FIELDS
        return readonly

    def _guards_staff(self, request: HttpRequest, obj: Any) -> bool:
        return (
            obj is not None and (obj.is_staff or obj.is_superuser) and not request.user.is_superuser
        )

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._guards_staff(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._guards_staff(request, obj) and super().has_delete_permission(request, obj)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        target = self.get_object(request, id)
        if self._guards_staff(request, target):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    @admin.display(description="Two-factor", boolean=True)
    def two_factor(self, obj: User) -> bool:
        return two_factor_enrolled(obj)

    def has_two_factor_reset_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(
        description="Reset two-factor sign-in (a lost phone: they enrol again)",
        permissions=["two_factor_reset"],
    )
    def two_factor_reset(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        for user in queryset:
            removed = two_factor_reset(user)
            audit_record_request(request, action="2fa.reset", obj=user, detail={"devices": removed})
        self.message_user(request, f"Two-factor sign-in reset for {queryset.count()} account(s).")
