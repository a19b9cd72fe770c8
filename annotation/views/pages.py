from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from .. import selectors
from ..permissions import ReviewerRequiredMixin, is_admin


class DashboardView(LoginRequiredMixin, ReviewerRequiredMixin, TemplateView):
    template_name = "annotation/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["status_counts"] = selectors.item_status_counts()
        context["source_counts"] = selectors.item_source_counts()
        if is_admin(self.request.user):
            context["recent_jobs"] = selectors.job_list()[:10]
        return context
