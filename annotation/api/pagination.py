"""Cursor pagination that refuses a forged cursor instead of failing on it.

DRF decodes the cursor's base64 and query string but passes its position (`p`) to the
queryset unchecked, so `p=abc` on an integer ordering raised ValueError: a 500. Here the
position is converted by the ordering field first; one it cannot take is DRF's own
"Invalid cursor" (404), as an undecodable cursor already is.
"""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class CheckedCursorPagination(CursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def paginate_queryset(self, queryset, request, view=None):
        self._model = queryset.model
        return super().paginate_queryset(queryset, request, view)

    def decode_cursor(self, request):
        cursor = super().decode_cursor(request)
        if cursor is not None and cursor.position is not None:
            self._check_position(cursor.position)
        return cursor

    def _check_position(self, position: str) -> None:
        ordering = self.ordering if isinstance(self.ordering, str) else self.ordering[0]
        field = self._model._meta.get_field(ordering.lstrip("-"))
        try:
            if "\x00" in position:  # no database text holds NUL
                raise ValueError(position)
            value = field.to_python(position)
            field.get_prep_value(value)
            # An integer outside the column's range would make the query fail.
            if isinstance(value, int) and not -(2**63) <= value < 2**63:
                raise ValueError(position)
        except (ValidationError, ValueError, TypeError, OverflowError):
            raise NotFound(self.invalid_cursor_message) from None
