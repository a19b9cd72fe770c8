"""Admin pages that start pipeline jobs: POST /pipeline/score/, /filter/, /translate/, /evolve/.

With htmx the answer is the pipeline panel again (errors in place, or the job just queued)
and an HX-Trigger that makes the job table reload; without it, a redirect to the dashboard.
"""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views import View

from annotation.errors import QueueUnavailable
from annotation.permissions import AdminRequiredMixin

from . import services
from .forms import EvolveForm, FilterForm, ScoreForm, TranslateForm

JOBS_CHANGED_EVENT = "jobs-changed"


def pipeline_forms(**bound) -> dict:
    """The panel's two forms: the bound one given, a fresh one for the other."""
    return {
        "score_form": ScoreForm(),
        "filter_form": FilterForm(),
        "translate_form": TranslateForm(),
        "evolve_form": EvolveForm(),
        **bound,
    }


class _PipelineStartView(LoginRequiredMixin, AdminRequiredMixin, View):
    http_method_names = ["post"]
    form_class: type[ScoreForm | FilterForm | TranslateForm | EvolveForm]
    form_name: str

    def start_job(self, *, user, options: dict):
        raise NotImplementedError

    def post(self, request):
        form = self.form_class(request.POST)
        job = self._start(form, user=request.user)
        started = _describe(job) if job is not None else None
        if not request.htmx:
            if started:
                messages.success(request, started)
            else:
                for errors in form.errors.values():
                    for error in errors:
                        messages.error(request, error)
            return redirect("dashboard")
        context = pipeline_forms(**({self.form_name: form} if job is None else {}))
        response = render(
            request, "pipeline/partials/pipeline.html", {**context, "started": started}
        )
        if job is not None:
            response["HX-Trigger"] = JOBS_CHANGED_EVENT
        return response

    def _start(self, form, *, user):
        """The job started, or None with the reason added to the form."""
        if not form.is_valid():
            return None
        try:
            job = self.start_job(user=user, options=form.job_options())
        except services.PipelineConfigError as exc:
            form.add_error(None, str(exc))
            return None
        except QueueUnavailable:
            form.add_error(
                None,
                _(
                    "The task queue cannot be reached, so the job was not started. "
                    "Try again once it is back, or ask an administrator to check Redis."
                ),
            )
            return None
        job.refresh_from_db()  # with eager tasks (quick start) it may have run already
        return job


def _describe(job) -> str:
    return _("%(kind)s job #%(id)s: %(total)s items, %(status)s.") % {
        "kind": job.get_kind_display(),
        "id": job.pk,
        "total": job.total,
        "status": job.get_status_display(),
    }


class ScoreStartPageView(_PipelineStartView):
    form_class = ScoreForm
    form_name = "score_form"

    def start_job(self, *, user, options: dict):
        return services.score_job_start(user=user, **options)


class FilterStartPageView(_PipelineStartView):
    form_class = FilterForm
    form_name = "filter_form"

    def start_job(self, *, user, options: dict):
        return services.filter_job_start(user=user, **options)


class TranslateStartPageView(_PipelineStartView):
    form_class = TranslateForm
    form_name = "translate_form"

    def start_job(self, *, user, options: dict):
        return services.translate_job_start(user=user, **options)


class EvolveStartPageView(_PipelineStartView):
    form_class = EvolveForm
    form_name = "evolve_form"

    def start_job(self, *, user, options: dict):
        return services.evolve_job_start(user=user, **options)
