"""Writes to the annotation guidelines (admins only; the view checks the role)."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Guideline

MAX_GUIDELINE_CHARS = 100_000


@transaction.atomic
def guideline_update(*, language: str, body: str, user) -> Guideline:
    """Replace the guidelines of one language (one of settings.LANGUAGES)."""
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": f"{language!r} is not one of the site's languages"})
    if not body.strip():
        raise ValidationError({"body": "the guidelines must not be empty"})
    if len(body) > MAX_GUIDELINE_CHARS:
        raise ValidationError({"body": f"at most {MAX_GUIDELINE_CHARS} characters"})
    guideline, _ = Guideline.objects.select_for_update().get_or_create(
        language=language, defaults={"body": body, "updated_by": user}
    )
    guideline.body = body
    guideline.updated_by = user
    guideline.save(update_fields=["body", "updated_by", "updated_at"])
    return guideline
