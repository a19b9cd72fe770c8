from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "pipeline"
    verbose_name = "Pipeline"

    def ready(self) -> None:
        from annotation.dashboard import DashboardPanel, dashboard_panel_register

        from .views import pipeline_forms

        dashboard_panel_register(
            DashboardPanel(
                name="pipeline",
                template="pipeline/partials/pipeline.html",
                order=50,
                context=pipeline_forms,
            )
        )
