from csp.decorators import csp_update
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from annotation.views.accounts import account_urlpatterns
from annotation.views.health import healthz

# The docs page's setup script comes from ?script= (the split view), so scripts stay
# 'self'-only; Swagger UI's page keeps an inline <style>, so styles are relaxed there alone.
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(
    SpectacularSwaggerSplitView.as_view(url_name="api-schema")
)

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("accounts/", include(account_urlpatterns)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", api_docs, name="api-docs"),
    path("api/v1/pipeline/", include("pipeline.api.urls")),
    path("api/v1/", include("annotation.api.urls")),
    path("pipeline/", include("pipeline.urls")),
    path("", include("annotation.urls")),
]
