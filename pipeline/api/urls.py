from django.urls import path

from .generation import EvolveStartView, ReanswerView, RetranslateView, TranslateStartView
from .views import FilterStartView, ScoreStartView

urlpatterns = [
    path("score/", ScoreStartView.as_view(), name="pipeline-score"),
    path("filter/", FilterStartView.as_view(), name="pipeline-filter"),
    path("translate/", TranslateStartView.as_view(), name="api-pipeline-translate"),
    path("evolve/", EvolveStartView.as_view(), name="api-pipeline-evolve"),
    path("retranslate/", RetranslateView.as_view(), name="api-pipeline-retranslate"),
    path("reanswer/", ReanswerView.as_view(), name="api-pipeline-reanswer"),
]
