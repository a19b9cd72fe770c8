from django.urls import path

from . import flagged, views

urlpatterns = [
    path("score/", views.ScoreStartPageView.as_view(), name="pipeline-score"),
    path("filter/", views.FilterStartPageView.as_view(), name="pipeline-filter"),
    path("translate/", views.TranslateStartPageView.as_view(), name="pipeline-translate"),
    path("evolve/", views.EvolveStartPageView.as_view(), name="pipeline-evolve"),
    path("flagged/", flagged.FlaggedItemsView.as_view(), name="pipeline-flagged"),
    path("items/<int:item_id>/", flagged.GeneratedItemView.as_view(), name="pipeline-item"),
    path(
        "items/<int:item_id>/retranslate/",
        flagged.RetranslateItemView.as_view(),
        name="pipeline-retranslate",
    ),
    path(
        "items/<int:item_id>/reanswer/",
        flagged.ReanswerItemView.as_view(),
        name="pipeline-reanswer",
    ),
]
