"""Admin pages for generated items: the flagged items, one item, and one item translated or
answered again (GET /pipeline/flagged/?flag=…, GET /pipeline/items/<id>/,
POST /pipeline/items/<id>/retranslate/ and /reanswer/)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import TemplateView

from annotation.permissions import AdminRequiredMixin

from . import services
from .selectors import GENERATION_FLAGS, items_flagged, items_generated


class FlaggedItemsView(LoginRequiredMixin, AdminRequiredMixin, TemplateView):
    template_name = "pipeline/flagged.html"

    def get_context_data(self, **kwargs):
        flag = self.request.GET.get("flag", "")
        if flag not in GENERATION_FLAGS:
            flag = ""
        page = Paginator(items_flagged(flag=flag or None), 50).get_page(
            self.request.GET.get("page")
        )
        return {
            **super().get_context_data(**kwargs),
            "flags": GENERATION_FLAGS,
            "flag": flag,
            "page": page,
        }


class GeneratedItemView(LoginRequiredMixin, AdminRequiredMixin, TemplateView):
    """One item with its English or its parent, flags and the redo buttons."""

    template_name = "pipeline/item.html"

    def get_context_data(self, **kwargs):
        item = get_object_or_404(items_generated(), pk=kwargs["item_id"])
        return {**super().get_context_data(**kwargs), "item": item}


class _RedoItemView(LoginRequiredMixin, AdminRequiredMixin, View):
    http_method_names = ["post"]

    def start(self, *, user, item_id: int):
        raise NotImplementedError

    def post(self, request, item_id: int):
        try:
            job = self.start(user=request.user, item_id=item_id)
        except services.PipelineConfigError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Job #%(id)s started for item %(item)s.") % {"id": job.pk, "item": item_id},
            )
        back = request.POST.get("next", "")
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = "pipeline-flagged"
        return redirect(back)


class RetranslateItemView(_RedoItemView):
    def start(self, *, user, item_id: int):
        return services.retranslate_item_start(user=user, item_id=item_id)


class ReanswerItemView(_RedoItemView):
    def start(self, *, user, item_id: int):
        return services.reanswer_item_start(user=user, item_id=item_id)
