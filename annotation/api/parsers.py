"""The API's JSON parser: DRF's, with bodies nested too deep answered 400, not 500.

DRF turns a ValueError of the json module (malformed JSON, an integer of over 4,300 digits)
into a 400 ParseError, but a body nested about a thousand levels deep raises RecursionError,
which became a 500.
"""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deep") from None
