from django.contrib.auth.mixins import LoginRequiredMixin
from django.views.generic import TemplateView

from .. import selectors
from ..dashboard import DashboardPanel, dashboard_panel_register, dashboard_panels
from ..permissions import AdminRequiredMixin, ReviewerRequiredMixin, is_admin

RECENT_JOBS = 10


def item_counts_context() -> dict:
    return {
        "status_counts": selectors.item_status_counts(),
        "source_counts": selectors.item_source_counts(),
    }


def job_table_context() -> dict:
    jobs = list(selectors.job_list()[:RECENT_JOBS])
    return {
        "job_rows": [
            (job, *selectors.job_progress(job=job), selectors.job_is_stalled(job=job))
            for job in jobs
        ],
        # Jobs that ran a demo model (random weights): the table says their scores mean nothing.
        "demo_job_ids": {
            job.pk for job in jobs if selectors.ifd_model_is_demo(model=job.params.get("model", ""))
        },
    }


dashboard_panel_register(
    DashboardPanel(
        name="item_counts",
        template="annotation/partials/item_counts.html",
        order=10,
        context=item_counts_context,
        admin_only=False,
    )
)
dashboard_panel_register(
    DashboardPanel(
        name="job_table",
        template="annotation/partials/job_table.html",
        order=90,
        context=job_table_context,
    )
)


class _JobsActiveMixin:
    """The partials poll while any job is unfinished; each page asks the database once."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), "jobs_active": selectors.job_any_active()}


class DashboardView(LoginRequiredMixin, ReviewerRequiredMixin, _JobsActiveMixin, TemplateView):
    template_name = "annotation/dashboard.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        panels = dashboard_panels(admin=is_admin(self.request.user))
        for panel in panels:
            context.update(panel.context())
        context["panels"] = panels
        return context


class ItemCountsView(LoginRequiredMixin, ReviewerRequiredMixin, _JobsActiveMixin, TemplateView):
    """The dashboard's item counts alone, for htmx to reload."""

    template_name = "annotation/partials/item_counts.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **item_counts_context()}


class JobTableView(LoginRequiredMixin, AdminRequiredMixin, _JobsActiveMixin, TemplateView):
    """The dashboard's job table alone, for htmx to reload."""

    template_name = "annotation/partials/job_table.html"

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **job_table_context()}
