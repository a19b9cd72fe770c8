from django.urls import path

from .views import guidelines, pages, review, review_edit

urlpatterns = [
    path("", pages.DashboardView.as_view(), name="dashboard"),
    path("items/counts/", pages.ItemCountsView.as_view(), name="item-counts"),
    path("jobs/table/", pages.JobTableView.as_view(), name="job-table"),
    path("review/", review.review_page, name="review"),
    path("review/progress/", review.progress, name="review-progress"),
    path("review/undo/", review.undo, name="review-undo"),
    path("review/filters/save/", review.save_filter, name="review-save-filter"),
    path("review/item/<int:item_id>/", review.item_panel, name="review-item"),
    path("review/item/<int:item_id>/classify/", review.classify, name="review-classify"),
    path("review/item/<int:item_id>/accept/", review.accept, name="review-accept"),
    path("review/item/<int:item_id>/reject/", review.reject, name="review-reject"),
    path("review/item/<int:item_id>/skip/", review.skip, name="review-skip"),
    path("review/item/<int:item_id>/edit/", review_edit.edit_form, name="review-edit-form"),
    path(
        "review/item/<int:item_id>/edit/preview/",
        review_edit.edit_preview,
        name="review-edit-preview",
    ),
    path("review/item/<int:item_id>/edit/save/", review_edit.edit_save, name="review-edit"),
    path("guidelines/", guidelines.guidelines_page, name="guidelines"),
    path("guidelines/edit/", guidelines.guidelines_edit, name="guidelines-edit"),
]
