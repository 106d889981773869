"""URLs of the public domain (BASE_DOMAIN): the platform admin. Tenant admins are mounted per
request by console.tenant_scope under /admin/t/<slug>/."""

from django.urls import path
from django.views.generic import RedirectView

from backoffice.sites import staff_site
from saas.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", staff_site.urls),
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
]

handler500 = "saas.errors.server_error"
