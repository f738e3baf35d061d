"""The JSON parser of the whole API: plain JSON objects of a sane depth, never a crash.

DRF's parser turns malformed JSON into a 400, but Python's decoder answers JSON nested a few thousand
levels deep (``[[[[…]]]]``) with a ``RecursionError``, which would be a 500; and a body nested just
under that limit parses, only to fail later wherever it is walked again (hashing it for an
``Idempotency-Key``, rendering an error about it). No request of this API nests more than a few
levels, so anything deeper than ``MAX_DEPTH`` is refused as a parse error.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32  # objects and arrays inside each other; the deepest request (a batch) needs 3


def _depth_exceeds(data, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:  # iterative: a recursive walk would hit the very limit it guards against
        value, depth = stack.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
            too_deep = _depth_exceeds(data, MAX_DEPTH)
        except RecursionError:
            too_deep = True
        if too_deep:
            raise ParseError(_("JSON parse error - nested more than %(max)s levels deep.") % {"max": MAX_DEPTH})
        return data
