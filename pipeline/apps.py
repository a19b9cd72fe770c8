from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        from annotation.dashboard import DashboardPanel, dashboard_panel_register
        from annotation.models import Job
        from annotation.services import job_sender_register

        from .services import evolve_job_send, filter_job_send, score_job_send, translate_job_send
        from .views import pipeline_forms

        # How the job services (resume, the stalled-job sweep) queue these jobs again.
        job_sender_register(kind=Job.Kind.SCORE, send=score_job_send)
        job_sender_register(kind=Job.Kind.FILTER, send=filter_job_send)
        job_sender_register(kind=Job.Kind.TRANSLATE, send=translate_job_send)
        job_sender_register(kind=Job.Kind.EVOLVE, send=evolve_job_send)

        dashboard_panel_register(
            DashboardPanel(
                name="pipeline",
                template="pipeline/partials/pipeline.html",
                order=50,
                context=pipeline_forms,
            )
        )
