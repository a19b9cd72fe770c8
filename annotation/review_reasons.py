"""Why an item is rejected: the short list reviewers pick from (digits in the reason list).

The code is stored as the item's status reason; anything else a reviewer types is stored as
typed. `reason_label` shows either in the reader's language.
"""

from django.utils.translation import gettext_lazy as _

REJECT_REASONS: list[tuple[str, str]] = [
    ("harmful", _("Unsafe or harmful answer")),
    ("wrong", _("Factually wrong or misleading")),
    ("off_values", _("Does not reflect the intended values")),
    ("poor_language", _("Poor or unnatural Chinese")),
    ("bad_translation", _("Bad translation")),
    ("off_topic", _("Answer does not fit the instruction")),
    ("duplicate", _("Duplicate or near-duplicate")),
]
REJECT_REASON_CODES = frozenset(code for code, _label in REJECT_REASONS)


def reason_label(reason: str) -> str:
    """The label of a listed reason, or the typed text itself."""
    return str(dict(REJECT_REASONS).get(reason, reason))
