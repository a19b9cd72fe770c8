"""The review workspace (SPEC §7): the queue page, the item panel and the decisions.

Every decision answers with the item panel (an htmx fragment) of the item to look at next,
plus the reviewer's progress swapped out of band. The panel carries the item's version, and
the page's script sends each request only after the previous one has answered, so a quick
"1 then a" classifies and then accepts with the version the classification returned.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
from ..dashboard import DashboardPanel, dashboard_panel_register
from ..errors import ClaimedByOther, NothingToUndo, StaleEdit
from ..filters import InvalidFilters
from ..guidelines import guideline_blocks
from ..lifecycle import InvalidTransition
from ..models import Categorization, Item, Source, Status
from ..review_reasons import REJECT_REASONS
from .review_support import (
    FILTER_PARAMS,
    error_text,
    item_or_404,
    item_panel_context,
    panel_response,
    posted_version,
    queue_filters,
    queue_filters_clear,
    reviewer_required,
)

# What a decision can be refused with; the panel then shows the item as it is, and why.
REFUSALS = (StaleEdit, ClaimedByOther, ValidationError, InvalidTransition)

dashboard_panel_register(
    DashboardPanel(
        name="review_queue",
        template="review/partials/dashboard_panel.html",
        order=0,
        context=dict,
        admin_only=False,
    )
)


def _next(request: HttpRequest, *, notice: str = "") -> HttpResponse:
    item, refused = _claim(request)
    return panel_response(request, item, notice=refused or notice)


def _claim(request: HttpRequest, *, remember: bool = False) -> tuple[Item | None, str]:
    """The held or next item under the reviewer's filters, and a notice if they were bad."""
    try:
        filters = queue_filters(request, remember=remember)
        return services.review_claim(reviewer=request.user, filters=filters), ""
    except InvalidFilters as bad:
        queue_filters_clear(request)
        notice = gettext("The filters were cleared: %(error)s") % {"error": bad}
        return services.review_claim(reviewer=request.user), notice


def _refused(request: HttpRequest, item_id: int, error: Exception) -> HttpResponse:
    """The item as it is now, with why the decision was not taken (409 or 400)."""
    if isinstance(error, StaleEdit):
        notice = gettext(
            "This item changed since you loaded it (now version %(version)s). It is shown "
            "as it is now: check it and decide again."
        ) % {"version": error.current_version}
        status = 409
    elif isinstance(error, ClaimedByOther):
        notice, status = str(error), 409
    elif isinstance(error, InvalidTransition):
        notice = gettext("This item is %(status)s; that decision does not apply to it.") % {
            "status": Status(error.current).label
        }
        status = 409
    else:
        notice, status = error_text(error), 400
    return panel_response(request, item_or_404(item_id), notice=notice, status=status)


@reviewer_required
@require_GET
def review_page(request: HttpRequest) -> HttpResponse:
    item, notice = _claim(request, remember=True)
    context = item_panel_context(item=item, user=request.user) if item else {"item": None}
    guideline = selectors.guideline_for_language(language=get_language())
    context.update(
        progress=selectors.review_progress(reviewer=request.user),
        filters=queue_filters(request),
        sources=Source.choices,
        saved_filters=selectors.saved_filters_for(reviewer=request.user),
        guideline_blocks=guideline_blocks(guideline.body),
        reject_reasons=REJECT_REASONS,
        notice=notice,
    )
    return render(request, "review/page.html", context)


@reviewer_required
@require_GET
def item_panel(request: HttpRequest, item_id: int) -> HttpResponse:
    return panel_response(request, item_or_404(item_id))


@reviewer_required
@require_GET
def progress(request: HttpRequest) -> HttpResponse:
    context = {"progress": selectors.review_progress(reviewer=request.user)}
    return render(request, "review/partials/progress.html", context)


@reviewer_required
@require_POST
def classify(request: HttpRequest, item_id: int) -> HttpResponse:
    value = request.POST.get("categorization", "")
    if not value or value not in Categorization.values:
        return panel_response(
            request, item_or_404(item_id), notice=gettext("Choose a class."), status=400
        )
    try:
        item = services.item_classify(
            item_id=item_id,
            user=request.user,
            version=posted_version(request),
            categorization=value,
        )
    except REFUSALS as error:
        return _refused(request, item_id, error)
    return panel_response(request, item_or_404(item.pk))


@reviewer_required
@require_POST
def accept(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        services.item_accept(
            item_id=item_id,
            reviewer=request.user,
            version=posted_version(request),
            categorization=request.POST.get("categorization", ""),
        )
    except REFUSALS as error:
        return _refused(request, item_id, error)
    return _next(request, notice=gettext("Item %(id)s accepted.") % {"id": item_id})


@reviewer_required
@require_POST
def reject(request: HttpRequest, item_id: int) -> HttpResponse:
    reason = request.POST.get("reason", "").strip()
    try:
        services.item_reject(
            item_id=item_id, reviewer=request.user, version=posted_version(request), reason=reason
        )
    except REFUSALS as error:
        return _refused(request, item_id, error)
    return _next(request, notice=gettext("Item %(id)s rejected.") % {"id": item_id})


@reviewer_required
@require_POST
def skip(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        services.item_skip(item_id=item_id, reviewer=request.user, version=posted_version(request))
    except REFUSALS as error:
        return _refused(request, item_id, error)
    return _next(request, notice=gettext("Item %(id)s skipped.") % {"id": item_id})


@reviewer_required
@require_POST
def undo(request: HttpRequest) -> HttpResponse:
    try:
        item = services.item_undo(reviewer=request.user)
    except NothingToUndo as nothing:
        return _next(request, notice=str(nothing))
    return panel_response(
        request,
        item_or_404(item.pk),
        notice=gettext("Decision on item %(id)s undone.") % {"id": item.pk},
    )


@reviewer_required
@require_POST
def save_filter(request: HttpRequest) -> HttpResponse:
    """Keep the filters in the form under a name, for this reviewer; then use them."""
    params = {name: request.POST.get(name, "").strip() for name in FILTER_PARAMS}
    params.pop("saved_filter", None)
    try:
        saved = services.saved_filter_save(
            name=request.POST.get("name", ""), params=params, owner=request.user
        )
    except (InvalidFilters, ValidationError) as refused:
        message = error_text(refused) if isinstance(refused, ValidationError) else str(refused)
        messages.error(request, message)
        return redirect("review")
    messages.success(request, gettext("Filter “%(name)s” saved.") % {"name": saved.name})
    return redirect(f"{reverse('review')}?saved_filter={saved.pk}")
