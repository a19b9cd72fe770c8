"""Inline editing in the review workspace: the form, a diff before saving, and conflicts.

The save carries the version the editor started from. When someone changed the item in the
meantime the service refuses it (StaleEdit) and the reviewer sees their text and the current
one side by side, with the differences, and decides: nothing is overwritten silently.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from .. import services
from ..errors import ClaimedByOther, DuplicateContent, StaleEdit
from ..textdiff import field_diffs
from .review_support import (
    error_text,
    item_or_404,
    panel_response,
    posted_version,
    reviewer_required,
)

TEXT_FIELDS = ("instruction", "input", "output")


def _submitted(request: HttpRequest) -> dict[str, str]:
    # Browsers send textarea line ends as \r\n; the stored text has what was imported.
    return {
        field: request.POST.get(field, "").replace("\r\n", "\n")
        for field in TEXT_FIELDS
        if field in request.POST
    }


def _form(request, item, *, texts, version, diffs=None, notice="", status=200, conflict=None):
    context = {
        "item": item,
        "texts": texts,
        "version": version,
        "diffs": diffs,
        "notice": notice,
        "conflict": conflict,
        "fields": [(field, texts.get(field, "")) for field in TEXT_FIELDS],
    }
    return render(request, "review/partials/edit_form.html", context, status=status)


def _current_texts(item) -> dict[str, str]:
    return {field: getattr(item, field) for field in TEXT_FIELDS}


@reviewer_required
@require_GET
def edit_form(request: HttpRequest, item_id: int) -> HttpResponse:
    item = item_or_404(item_id)
    return _form(request, item, texts=_current_texts(item), version=item.version)


@reviewer_required
@require_POST
def edit_preview(request: HttpRequest, item_id: int) -> HttpResponse:
    """The differences between the item as stored now and the editor's text."""
    item = item_or_404(item_id)
    texts = _submitted(request)
    version = posted_version(request)
    diffs = field_diffs(_current_texts(item), texts)
    if version != item.version:
        return _conflict(request, item, texts=texts)
    notice = "" if diffs else gettext("Nothing changed.")
    return _form(request, item, texts=texts, version=version, diffs=diffs, notice=notice)


def _conflict(request: HttpRequest, item, *, texts: dict[str, str]) -> HttpResponse:
    """Both texts, theirs and yours; saving now starts from their version, on purpose."""
    theirs = _current_texts(item)
    conflict = {
        "fields": [
            (field, theirs[field], texts.get(field, theirs[field])) for field in TEXT_FIELDS
        ],
        "diffs": field_diffs(theirs, texts),
    }
    notice = gettext(
        "Someone changed this item while you were editing (it is now version %(version)s). "
        "Your text was not saved. Compare both texts below: keep theirs, or edit on from "
        "yours and save again over their version."
    ) % {"version": item.version}
    return _form(
        request,
        item,
        texts=texts,
        version=item.version,
        notice=notice,
        status=409,
        conflict=conflict,
    )


@reviewer_required
@require_POST
def edit_save(request: HttpRequest, item_id: int) -> HttpResponse:
    texts = _submitted(request)
    version = posted_version(request)
    try:
        services.item_edit(item_id=item_id, user=request.user, version=version, changes=texts)
    except StaleEdit:
        return _conflict(request, item_or_404(item_id), texts=texts)
    except (ClaimedByOther, DuplicateContent) as refused:
        item = item_or_404(item_id)
        return _form(request, item, texts=texts, version=version, notice=str(refused), status=409)
    except ValidationError as invalid:
        item = item_or_404(item_id)
        return _form(
            request, item, texts=texts, version=version, notice=error_text(invalid), status=400
        )
    return panel_response(request, item_or_404(item_id), notice=gettext("Edit saved."))
