"""The completion JSON rendered from plain rows, by a plan built from the serializers' own fields.

The serializers (``serializers.py``) are the one definition of the output: they make the OpenAPI schema,
and ``renderer(SerializerClass)`` turns their fields, once per class, into a plan that renders the rows
the selectors read, ``.values()`` dicts or the small objects of ``PilotCompletion``, as DRF would render
model instances, field for field and in the same order. Adding a field to a serializer adds it to the
output. Model instances and nested ModelSerializers were most of a request's CPU; the plan only looks
values up and converts the few that need it (decimals, dates, times).

How a field's ``source`` is found: on an object, attribute by attribute; in a ``.values()`` dict, which is
flat, under the rest of the path joined the Django way (``prefecture.code`` is the column
``prefecture__code``, a related object's ``id`` is its foreign key ``prefecture_id``). A nested
serializer over a dict reads its fields from the same dict under its own prefix; ``many=True`` needs a list.
``SerializerMethodField``s and fields with ``source="*"`` get the row (or object) they are declared on, so
their methods read it as a mapping when it is one.

``tests/test_api_completion_output.py`` holds the output to the serializers' fields and to recorded bytes.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any

from rest_framework import serializers

__all__ = ["Renderer", "Rendering", "renderer"]


class Rendering:
    """One response's conversions of scalars, as the serializers' field classes render them.

    It remembers the dates and times it has rendered (the rows of one run share ``as_of`` and ``computed_at``).
    """

    _date = serializers.DateField()
    _time = serializers.DateTimeField()

    def __init__(self):
        self._dates: dict = {}
        self._times: dict = {}

    @staticmethod
    def decimal(value, field: serializers.DecimalField | None = None):
        field = field or _PERCENT
        if value is None:
            return None
        if type(value) is Decimal and value.as_tuple().exponent == -field.decimal_places:
            # Read from a numeric(…, places) column: already what quantize to those places returns.
            return f"{value:f}"
        return field.to_representation(value)

    def percent(self, value):
        """A ``numeric(6, 2)`` percent, like every ``*_percent`` model field."""
        return self.decimal(value, _PERCENT)

    def date(self, value):
        return self._rendered(self._dates, self._date, value)

    def time(self, value):
        return self._rendered(self._times, self._time, value)

    @staticmethod
    def _rendered(seen: dict, field: serializers.Field, value):
        if value is None:
            return None
        text = seen.get(value)
        if text is None:
            text = seen[value] = field.to_representation(value)
        return text


_PERCENT = serializers.DecimalField(max_digits=6, decimal_places=2)


def column(path: tuple[str, ...]) -> str:
    """The ``.values()`` key of a source path: ``("prefecture", "code")`` → ``prefecture__code``, and a
    related object's ``id`` → its foreign key's column (``("prefecture", "id")`` → ``prefecture_id``)."""
    if len(path) > 1 and path[-1] == "id":
        return "__".join(path[:-1]) + "_id"
    return "__".join(path)


def _source_path(field: serializers.Field) -> tuple[str, ...]:
    """Where a field's value is: its ``source``, and for a slug the related object's slug field."""
    path = () if field.source == "*" else tuple(field.source.split("."))
    return (*path, field.slug_field) if isinstance(field, serializers.SlugRelatedField) else path


# A converter turns a non-null value into its JSON; None for "as it is" (ints, booleans, strings, choices).
Converter = Callable[[Any, Rendering], Any] | None


def _converter(field: serializers.Field) -> Converter:
    kind = type(field)
    if isinstance(field, serializers.DecimalField):
        return lambda value, json: json.decimal(value, field)
    if kind is serializers.DateField and not hasattr(field, "format"):
        return lambda value, json: json.date(value)
    if kind is serializers.DateTimeField and not hasattr(field, "format"):
        return lambda value, json: json.time(value)
    if kind in (serializers.IntegerField, serializers.BooleanField, serializers.CharField, serializers.ChoiceField,
                serializers.SlugRelatedField, serializers.ReadOnlyField, serializers.ModelField):
        # The stored value is already what these render (a choice is stored as its key).
        return None
    return lambda value, json: field.to_representation(value)


class Renderer:
    """A serializer's fields as steps: ``render(obj, json)`` is what ``Serializer(obj).data`` would be."""

    def __init__(self, serializer: serializers.Serializer):
        self.serializer = serializer
        self._plans: dict[tuple[str, ...], list[tuple]] = {}
        self._functions: dict[tuple[str, ...], Callable[[dict, Rendering], dict]] = {}
        self._fields = [(name, field, _source_path(field)) for name, field in serializer.fields.items()
                        if not field.write_only]
        self._converters = {name: _converter(field) for name, field, _path in self._fields}
        self._children = {name: Renderer(field.child if isinstance(field, serializers.ListSerializer) else field)
                          for name, field, _path in self._fields if isinstance(field, serializers.BaseSerializer)}

    @property
    def columns(self) -> tuple[str, ...]:
        """The ``.values()`` columns that rendering a flat row reads (what a list view selects)."""
        found: list[str] = []
        _columns(self.plan(()), found)
        return tuple(dict.fromkeys(found))

    def plan(self, prefix: tuple[str, ...]) -> list[tuple]:
        """The steps rendering a flat row whose columns for this serializer start with ``prefix``."""
        steps = self._plans.get(prefix)
        if steps is None:
            steps = self._plans[prefix] = [self._row_step(name, field, (*prefix, *path), prefix)
                                           for name, field, path in self._fields]
        return steps

    def row_function(self, prefix: tuple[str, ...] = ()) -> Callable[[dict, Rendering], dict]:
        """``plan(prefix)`` compiled into one function returning one dict literal, as fast as one written by hand."""
        function = self._functions.get(prefix)
        if function is None:
            function = self._functions[prefix] = _compile(self.plan(prefix), type(self.serializer).__name__)
        return function

    def _row_step(self, name: str, field: serializers.Field, path: tuple[str, ...], prefix: tuple[str, ...]):
        if isinstance(field, serializers.ListSerializer):
            raise TypeError(f"{name}: a flat row holds no list")
        if isinstance(field, serializers.BaseSerializer):
            present = column((*path, "id")) if field.allow_null else None
            return ("nested", name, self._children[name].plan(path), present)
        if isinstance(field, serializers.SerializerMethodField) or field.source == "*":
            if prefix:
                raise TypeError(f"{name}: a computed field nested in a flat row has no object of its own")
            method = (getattr(field.parent, field.method_name)
                      if isinstance(field, serializers.SerializerMethodField) else field.to_representation)
            return ("method", name, (), method)
        return ("value", name, column(path), None if _converter(field) is None else field)

    def render(self, obj, json: Rendering) -> dict:
        if type(obj) is dict:
            return self.row_function()(obj, json)
        return self._render_object(obj, json)

    def render_many(self, rows, json: Rendering) -> list[dict]:
        render = self.row_function()
        return [render(row, json) for row in rows]

    def _render_object(self, obj, json: Rendering) -> dict:
        out = {}
        for name, field, path in self._fields:
            if isinstance(field, serializers.BaseSerializer):
                out[name] = self._render_nested(name, field, obj, path, json)
            elif isinstance(field, serializers.SerializerMethodField):
                out[name] = getattr(field.parent, field.method_name)(obj)
            elif field.source == "*":
                out[name] = field.to_representation(obj)
            else:
                value = _walk(obj, path)
                convert = self._converters[name]
                out[name] = value if value is None or convert is None else convert(value, json)
        return out

    def _render_nested(self, name, field, obj, path, json):
        child = self._children[name]
        for index, part in enumerate(path):
            if obj is None:
                return None
            if type(obj) is dict:  # the rest of the path is a prefix of this flat row's columns
                rest = path[index:]
                if field.allow_null and obj[column((*rest, "id"))] is None:
                    return None
                return child.row_function(rest)(obj, json)
            obj = getattr(obj, part)
        if obj is None:
            return None
        if isinstance(field, serializers.ListSerializer):
            return [child.render(item, json) for item in obj]
        return child.render(obj, json)


def _columns(steps: list[tuple], found: list[str]) -> None:
    for kind, _name, *rest in steps:
        if kind == "value":
            found.append(rest[0])
        elif kind == "nested":
            if rest[1] is not None:
                found.append(rest[1])
            _columns(rest[0], found)
        else:
            found.extend(rest[0])


def _value_source(value: str, field: serializers.Field | None, namespace: dict) -> str:
    """Python source converting ``value`` (source text) as ``field`` renders it (None: as it is)."""
    if field is None:
        return value
    ref = f"_f{len(namespace)}"
    namespace[ref] = field
    if isinstance(field, serializers.DecimalField):
        return f"json.decimal({value}, {ref})"
    if type(field) is serializers.DateField and not hasattr(field, "format"):
        return f"json.date({value})"
    if type(field) is serializers.DateTimeField and not hasattr(field, "format"):
        return f"json.time({value})"
    return f"(None if (v := {value}) is None else {ref}.to_representation(v))"


def _compile(steps: list[tuple], name: str) -> Callable[[dict, Rendering], dict]:
    """A plan for flat rows as the source of one function, ``return {"field": row["column"], …}``: the
    dict literal a person would write, generated from the serializer's fields (as ``dataclasses`` does)."""
    namespace: dict = {}

    def literal(steps: list[tuple]) -> str:
        items = []
        for kind, key, first, second in steps:
            if kind == "value":
                item = _value_source(f"row[{first!r}]", second, namespace)
            elif kind == "nested":
                inner = literal(first)
                item = inner if second is None else f"(None if row[{second!r}] is None else {inner})"
            else:
                ref = f"_m{len(namespace)}"
                namespace[ref] = second
                item = f"{ref}(row)"
            items.append(f"{key!r}: {item}")
        return "{" + ", ".join(items) + "}"

    source = f"def render(row, json):\n    return {literal(steps)}\n"
    # exec of our own source, built above from the serializers' field names: no request data reaches it.
    exec(compile(source, f"<renderer of {name}>", "exec"), namespace)  # noqa: S102  # nosec B102
    return namespace["render"]


def _walk(obj, path: tuple[str, ...]):
    """The value at ``path`` from an object: attributes, until a flat dict takes the rest as one column."""
    for index, part in enumerate(path):
        if obj is None:
            return None
        if type(obj) is dict:
            return obj[column(path[index:])]
        obj = getattr(obj, part)
    return obj


@cache
def renderer(serializer_class: type[serializers.Serializer]) -> Renderer:
    """The render plan of ``serializer_class``, built once."""
    return Renderer(serializer_class())
