from django.urls import path

from .views import pages

urlpatterns = [
    path("", pages.DashboardView.as_view(), name="dashboard"),
    path("items/counts/", pages.ItemCountsView.as_view(), name="item-counts"),
    path("jobs/table/", pages.JobTableView.as_view(), name="job-table"),
]
