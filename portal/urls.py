from django.contrib.auth import views as auth_views
from django.urls import path, re_path, reverse_lazy

from portal import downloads, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path(
        "accounts/logout/", auth_views.LogoutView.as_view(next_page="portal:login"), name="logout"
    ),
    path(
        "accounts/password/change/",
        auth_views.PasswordChangeView.as_view(
            template_name="portal/password_change_form.html",
            success_url=reverse_lazy("portal:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html"),
        name="password_change_done",
    ),
    path("accounts/sessions/", views.sessions_list, name="sessions"),
    path("accounts/sessions/end/", views.sessions_end_view, name="sessions_end"),
    path("members/", views.members, name="members"),
    path("members/invite/", views.member_invite_view, name="member_invite"),
    path("members/<int:membership_id>/role/", views.member_role_view, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove_view, name="member_remove"),
    path("downloads/", downloads.downloads, name="downloads"),
    # Any text after file/ reaches the view (and its audit), a traversal attempt included.
    re_path(r"^downloads/file/(?P<ref>.+)$", downloads.download, name="download"),
    path("downloads/report/", downloads.report_request_view, name="report_request"),
    path("downloads/backup/", downloads.backup_request_view, name="backup_request"),
    path("downloads/export/", downloads.export_request_view, name="export_request"),
    path("downloads/recipients/", downloads.report_recipients_view, name="report_recipients"),
    path("downloads/<int:artifact_id>/share/", downloads.share_link_create_view, name="share_make"),
    path(
        "downloads/links/<int:link_id>/revoke/",
        downloads.share_link_revoke_view,
        name="share_revoke",
    ),
    re_path(r"^s/(?P<token>.+)$", downloads.share_download, name="share"),
    path("accounts/password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="portal/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="portal/password_reset_confirm.html",
            success_url=reverse_lazy("portal:password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="portal/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
