"""URLs of a tenant's domain (<slug>.BASE_DOMAIN): the portal. No admin here: /admin/ is 404."""

from django.urls import include, path

from saas.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("", include("portal.urls")),
]

handler500 = "saas.errors.server_error"
