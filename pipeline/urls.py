from django.urls import path

from . import views

urlpatterns = [
    path("score/", views.ScoreStartPageView.as_view(), name="pipeline-score"),
    path("filter/", views.FilterStartPageView.as_view(), name="pipeline-filter"),
]
