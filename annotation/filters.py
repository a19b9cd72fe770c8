"""Query-string filters over items, shared by the item API, the export and the pages.

Every filter takes the strings a URL carries; a value that does not parse is refused with
the parameter named (`InvalidFilters`, or a 400 through DjangoFilterBackend), never ignored.
"""

from collections.abc import Mapping
from typing import Any

import django_filters
from django import forms
from django.db import connections
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

from .models import Categorization, Item, ItemSearchText, Source, Status
from .search import query_is_exact


class InvalidFilters(ValueError):
    """Filter values that do not parse; `errors` maps each parameter to its messages."""

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors = {name: list(messages) for name, messages in errors.items()}
        super().__init__(
            "; ".join(f"{name}: {' '.join(messages)}" for name, messages in self.errors.items())
        )


class CommaSeparatedSelectMultiple(forms.SelectMultiple):
    """Reads `?status=a,b` and `?status=a&status=b` alike."""

    def value_from_datadict(self, data, files, name):
        raw = data.getlist(name) if hasattr(data, "getlist") else data.get(name)
        if raw is None:
            return None
        if isinstance(raw, str):
            raw = [raw]
        return [part.strip() for value in raw for part in str(value).split(",") if part.strip()]


class MultipleValueFilter(django_filters.MultipleChoiceFilter):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("widget", CommaSeparatedSelectMultiple)
        # The default (distinct=True) adds SELECT DISTINCT, which would sort the whole result
        # before the first row streams; filtering one column of one table never duplicates.
        kwargs.setdefault("distinct", False)
        super().__init__(*args, **kwargs)


class IntegerFilter(django_filters.Filter):
    # NumberFilter would take "1.5" for an id; an id is an integer.
    field_class = forms.IntegerField


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ITEM_TEXT_SQL = "(instruction || E'\\x1f' || input || E'\\x1f' || output)"
_KEYS_MATCH_SQL = (
    f"SELECT item_id FROM {ItemSearchText._meta.db_table} WHERE keys @> vad_search_keys(lower(%s))"
)


def search_text(queryset: QuerySet[Item], value: str) -> QuerySet[Item]:
    """Items whose instruction, input or output contains `value`, ignoring case.

    On PostgreSQL through the bigram index (annotation.search): the items whose keys hold
    every key of `value`; that alone answers a two-character query, and longer ones are
    checked against the text as well. A one-character query has no key and scans. Items
    just imported are found once the import's follow-up has written their keys.
    """
    if connections[queryset.db].vendor != "postgresql":
        return queryset.filter(
            Q(instruction__icontains=value) | Q(input__icontains=value) | Q(output__icontains=value)
        )
    if len(value) >= 2:
        queryset = queryset.filter(pk__in=RawSQL(_KEYS_MATCH_SQL, [value]))
    if not query_is_exact(value):
        contains = RawSQL(
            f"{_ITEM_TEXT_SQL} ILIKE %s", [_like_pattern(value)], output_field=BooleanField()
        )
        queryset = queryset.filter(contains)
    return queryset


# The origin index (migration 0006) leaves these out.
_UNINDEXED_STATUS = Status.PENDING_TRANSLATION


def _filter_in_two_halves(queryset: QuerySet[Item], condition: Any) -> QuerySet[Item]:
    """``queryset.filter(condition)`` for a condition whose index leaves out the items
    pending translation (migration 0006): the union of the indexed half and of
    those items, which the status index finds. One WHERE with both halves would be folded
    by the planner into a single scan that uses neither index.
    """
    indexed = Item.objects.exclude(status=_UNINDEXED_STATUS).filter(condition)
    unindexed = Item.objects.filter(status=_UNINDEXED_STATUS).filter(condition)
    matches = indexed.order_by().values("pk").union(unindexed.order_by().values("pk"), all=True)
    return queryset.filter(pk__in=matches)


class ExportFilter(django_filters.FilterSet):
    """The filters an export takes (SPEC §1); ItemFilter adds the browsing ones."""

    status = MultipleValueFilter(choices=Status.choices, help_text="one or more, comma separated")
    source = MultipleValueFilter(choices=Source.choices, help_text="one or more, comma separated")
    categorization = MultipleValueFilter(
        choices=[c for c in Categorization.choices if c[0]],
        help_text="one or more of person, social, nation, comma separated",
    )
    # Comparisons with NULL are never true, so unscored items never pass an IFD bound.
    min_ifd = django_filters.NumberFilter(field_name="ifd", lookup_expr="gte")
    max_ifd = django_filters.NumberFilter(field_name="ifd", lookup_expr="lte")
    updated_after = django_filters.IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gt", help_text="ISO 8601"
    )

    class Meta:
        model = Item
        fields: list[str] = []


class ItemFilter(ExportFilter):
    q = django_filters.CharFilter(
        method="filter_text", help_text="text in the instruction, input or output"
    )
    harm_category = django_filters.CharFilter(
        method="filter_harm_category", help_text="one of origin.harm_categories"
    )
    parent = IntegerFilter(field_name="parent_id")
    import_job = IntegerFilter(field_name="import_job_id")

    class Meta:
        model = Item
        fields: list[str] = []

    def filter_text(self, queryset: QuerySet[Item], name: str, value: str) -> QuerySet[Item]:
        return search_text(queryset, value)

    def filter_harm_category(
        self, queryset: QuerySet[Item], name: str, value: str
    ) -> QuerySet[Item]:
        if connections[queryset.db].vendor == "postgresql":
            # Containment on the whole column, which the jsonb_path_ops index on origin
            # serves; `origin__harm_categories__contains` means the same but no index does.
            # The has_key test matches the index's condition (migration 0007), so that the
            # planner may use it; containment implies it anyway.
            condition = Q(origin__has_key="harm_categories") & Q(
                origin__contains={"harm_categories": [value]}
            )
            return _filter_in_two_halves(queryset, condition)
        # SQLite has no JSON containment: match the quoted element in the array's JSON text.
        # Good enough for the quick start; a category containing '"' could over-match.
        return queryset.filter(origin__harm_categories__icontains=f'"{value}"')


class ReviewQueueFilter(django_filters.FilterSet):
    """What narrows a reviewer's queue (SPEC §7): `/review/` and `POST /api/v1/review/claim/`.

    Every item in review has its text, so the conditions need none of the two-halves unions
    of ItemFilter: the queue's own order (the item_review_queue index) does the work.
    """

    source = MultipleValueFilter(choices=Source.choices, help_text="one or more, comma separated")
    harm_category = django_filters.CharFilter(
        method="filter_harm_category", help_text="one of origin.harm_categories"
    )
    flag = django_filters.CharFilter(method="filter_flag", help_text="one of the item's flags")
    categorization = MultipleValueFilter(
        choices=[c for c in Categorization.choices if c[0]],
        help_text="one or more of person, social, nation, comma separated",
    )

    class Meta:
        model = Item
        fields: list[str] = []

    def filter_harm_category(
        self, queryset: QuerySet[Item], name: str, value: str
    ) -> QuerySet[Item]:
        return _json_list_contains(queryset, "origin", value, key="harm_categories")

    def filter_flag(self, queryset: QuerySet[Item], name: str, value: str) -> QuerySet[Item]:
        return _json_list_contains(queryset, "flags", value)


def _json_list_contains(
    queryset: QuerySet[Item], column: str, value: str, *, key: str | None = None
) -> QuerySet[Item]:
    """Items whose JSON list (`column`, or `column[key]`) holds `value`."""
    if connections[queryset.db].vendor == "postgresql":
        contained = {key: [value]} if key else [value]
        return queryset.filter(**{f"{column}__contains": contained})
    # SQLite has no JSON containment: match the quoted element in the list's JSON text.
    path = f"{column}__{key}" if key else column
    return queryset.filter(**{f"{path}__icontains": f'"{value}"'})


def apply_filters(
    filterset_class: type[django_filters.FilterSet],
    queryset: QuerySet[Item],
    filters: Mapping,
) -> QuerySet[Item]:
    """Filter `queryset`, or raise InvalidFilters naming each bad parameter."""
    filterset = filterset_class(data=filters, queryset=queryset)
    if not filterset.is_valid():
        raise InvalidFilters(filterset.errors)
    return filterset.qs


def query_values(filters: Mapping, name: str) -> list[str]:
    """The non-empty values given for `name`, from a QueryDict or a plain mapping."""
    raw = filters.getlist(name) if hasattr(filters, "getlist") else filters.get(name)
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raw = [raw]
    return [str(value) for value in raw if str(value) != ""]
