from django.urls import path

from .views import FilterStartView, ScoreStartView

urlpatterns = [
    path("score/", ScoreStartView.as_view(), name="pipeline-score"),
    path("filter/", FilterStartView.as_view(), name="pipeline-filter"),
]
