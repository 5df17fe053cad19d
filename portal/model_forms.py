"""HTML form fields built from a pydantic input model, and the posted form read back into that model's data.

The desk shows a trigger's data (``TransitionSpec.data_model()``) and an engagement kind's details
(``states.inputs.DETAILS_SCHEMAS``) through these, so a new field or model needs no new template.
The model itself still validates what comes back (through the domain seam that receives it).
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic.fields import FieldInfo

LONG_TEXT = 300
"""Texts allowed longer than this get a multi-line box."""


@dataclass(frozen=True)
class FormField:
    """One input of a form: ``widget`` is text, textarea, lines (one item a line), number, date, url or select."""

    name: str
    label: str
    widget: str
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    default: str = ""


NAMED = {"en": "English", "es": "Spanish", "fr": "French", "url": "Address (URL)", "fatf": "FATF"}


def label_of(name: str) -> str:
    """'organizing_agency' -> 'Organizing agency' (a few names spelled out)."""
    if name in NAMED:
        return NAMED[name]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def _unwrap(annotation: Any) -> tuple[Any, bool, list[Any]]:  # noqa: ANN401 - any annotation
    """The annotation without ``Optional`` and ``Annotated``; whether ``None`` is allowed; the metadata met."""
    optional, metadata = False, []
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation, *extra = get_args(annotation)
            metadata += extra
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            optional = optional or len(args) < len(get_args(annotation))
            annotation = args[0] if len(args) == 1 else str
        else:
            return annotation, optional, metadata


def _max_length(metadata: list[Any]) -> int | None:
    return next((item.max_length for item in metadata if getattr(item, "max_length", None)), None)


def _field(name: str, info: FieldInfo) -> FormField:
    annotation, optional, metadata = _unwrap(info.annotation)
    metadata += list(info.metadata)
    required = info.is_required() and not optional
    default = info.default if not info.is_required() and info.default is not None else ""
    default = default.value if isinstance(default, Enum) else default
    origin = get_origin(annotation)
    if origin is Literal:
        return FormField(name, label_of(name), "select", required,
                         tuple((str(v), label_of(str(v))) for v in get_args(annotation)), str(default))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return FormField(name, label_of(name), "select", required,
                         tuple((m.value, label_of(m.value)) for m in annotation), str(default))
    if origin is list:
        return FormField(name, label_of(name), "lines", False)
    if annotation is int:
        return FormField(name, label_of(name), "number", required)
    if annotation is date:
        return FormField(name, label_of(name), "date", required)
    if isinstance(annotation, type) and issubclass(annotation, str):
        long = (_max_length(metadata) or 0) > LONG_TEXT
        return FormField(name, label_of(name), "textarea" if long else "text", required)
    return FormField(name, label_of(name), "url" if "Url" in getattr(annotation, "__name__", "") else "text", required)


def form_fields(model: type[BaseModel], prefix: str = "") -> list[FormField]:
    """The inputs of a form for ``model``, in the model's order, named ``prefix + field``."""
    return [replace(_field(name, info), name=prefix + name) for name, info in model.model_fields.items()]


def form_data(model: type[BaseModel], form: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """What was posted for ``model``'s fields, as the model expects it: blanks left out, numbers as
    integers (a non-number is passed on for the model to refuse by name), one list item a line."""
    data: dict[str, Any] = {}
    for field in form_fields(model):
        raw = form.get(prefix + field.name)
        if not isinstance(raw, str) or not raw.strip():
            continue
        if field.widget == "lines":
            data[field.name] = [line.strip() for line in raw.splitlines() if line.strip()]
        elif field.widget == "number":
            text = raw.strip()
            data[field.name] = int(text) if text.lstrip("-").isdigit() and len(text) < 12 else text
        else:
            data[field.name] = raw
    return data
