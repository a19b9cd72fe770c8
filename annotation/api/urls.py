"""/api/v1/: each resource module owns its routes; the root lists them all."""

from django.urls import path

from . import exports, imports, items, jobs, review
from .root import ApiRootView

urlpatterns = [
    path("", ApiRootView.as_view(), name="api-root"),
    *items.urlpatterns,
    *review.urlpatterns,
    *jobs.urlpatterns,
    *imports.urlpatterns,
    *exports.urlpatterns,
]
