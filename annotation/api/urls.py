"""/api/v1/: each resource module owns its routes."""

from . import exports, imports, items, jobs

urlpatterns = [
    *items.urlpatterns,
    *jobs.urlpatterns,
    *imports.urlpatterns,
    *exports.urlpatterns,
]
