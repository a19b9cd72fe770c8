"""/guidelines/: the annotation guidelines for reviewers, editable by admins (SPEC §7, §8)."""

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from .. import selectors, services
from ..guidelines import guideline_blocks
from ..permissions import is_admin
from ..review_reasons import REJECT_REASONS
from ..services.guidelines import MAX_GUIDELINE_CHARS
from .review_support import reviewer_required


class GuidelineForm(forms.Form):
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    body = forms.CharField(
        label=_("Text"),
        max_length=MAX_GUIDELINE_CHARS,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 28}),
        help_text=_('A line starting with "# " is a heading, one starting with "- " a list entry.'),
    )


@reviewer_required
def guidelines_page(request: HttpRequest) -> HttpResponse:
    guideline = selectors.guideline_for_language(language=get_language())
    context = {
        "guideline": guideline,
        "blocks": guideline_blocks(guideline.body),
        "reject_reasons": REJECT_REASONS,
        "can_edit": is_admin(request.user),
    }
    return render(request, "review/guidelines.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def guidelines_edit(request: HttpRequest) -> HttpResponse:
    if not is_admin(request.user):
        raise PermissionDenied
    language = request.GET.get("language") or get_language()
    if request.method == "POST":
        form = GuidelineForm(request.POST)
        if form.is_valid():
            try:
                services.guideline_update(
                    language=form.cleaned_data["language"],
                    body=form.cleaned_data["body"],
                    user=request.user,
                )
            except ValidationError as invalid:
                form.add_error(None, invalid)
            else:
                messages.success(request, gettext("The guidelines were saved."))
                return redirect("guidelines")
    else:
        current = selectors.guideline_for_language(language=language)
        form = GuidelineForm(initial={"language": current.language, "body": current.body})
    return render(request, "review/guidelines_edit.html", {"form": form})
