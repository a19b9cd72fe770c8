from django.urls import path

from .views import pages

urlpatterns = [
    path("", pages.DashboardView.as_view(), name="dashboard"),
]
