"""Inline editing in the review workspace: the form, a diff before saving, and conflicts.

The save carries the version the editor started from. When someone changed the item in the
meantime the service refuses it (StaleEdit) and the reviewer sees their text and the current
one side by side, with the differences, and decides: nothing is overwritten silently.
"""

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_POST

from .. import selectors, services
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
FIELD_LABELS = {"instruction": _("Instruction"), "input": _("Input"), "output": _("Output")}


def _labelled(diffs):
    return [(FIELD_LABELS[field], segments) for field, segments in diffs]


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
    diffs = _labelled(field_diffs(_current_texts(item), texts))
    if version != item.version:
        return _conflict(request, item, texts=texts, base_version=version)
    notice = "" if diffs else gettext("Nothing changed.")
    return _form(request, item, texts=texts, version=version, diffs=diffs, notice=notice)


def _texts_at(item, version: int | None) -> dict[str, str]:
    """The texts as they were at `version`: the current ones, less later revisions."""
    texts = _current_texts(item)
    if version is None:
        return texts
    for revision in reversed(list(selectors.item_history(item_id=item.pk))):
        if revision.version > version and revision.field in texts:
            texts[revision.field] = revision.old_value
    return texts


def _conflict(request: HttpRequest, item, *, texts: dict[str, str], base_version) -> HttpResponse:
    """Theirs and yours side by side; nothing is saved.

    The editor is filled with a per-field merge from the version the reviewer started from:
    a field only they changed keeps their text, a field the reviewer changed keeps the
    reviewer's. Saving it then starts from their version, after the reviewer has seen both.
    """
    theirs = _current_texts(item)
    base = _texts_at(item, base_version)
    mine = [f for f in TEXT_FIELDS if f in texts and texts[f] != base[f]]
    merged = {f: texts[f] if f in mine else theirs[f] for f in TEXT_FIELDS}
    conflict = {
        "fields": [(f, FIELD_LABELS[f], theirs[f], texts[f]) for f in mine],
        "theirs_only": [
            FIELD_LABELS[f] for f in TEXT_FIELDS if f not in mine and theirs[f] != base[f]
        ],
        "diffs": _labelled(field_diffs(theirs, merged)),
    }
    notice = gettext(
        "Someone changed this item while you were editing (it is now version %(version)s). "
        "Your text was not saved. Compare both texts below: keep theirs, or edit on from "
        "yours and save again over their version."
    ) % {"version": item.version}
    return _form(
        request,
        item,
        texts=merged,
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
        return _conflict(request, item_or_404(item_id), texts=texts, base_version=version)
    except (ClaimedByOther, DuplicateContent) as refused:
        item = item_or_404(item_id)
        return _form(request, item, texts=texts, version=version, notice=str(refused), status=409)
    except ValidationError as invalid:
        item = item_or_404(item_id)
        return _form(
            request, item, texts=texts, version=version, notice=error_text(invalid), status=400
        )
    return panel_response(request, item_or_404(item_id), notice=gettext("Edit saved."))
