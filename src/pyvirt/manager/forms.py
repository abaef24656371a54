"""Reading the page's JSON forms: each bad field is an ApiError that names it."""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,63}$")


def text(body: dict[str, Any], field: str, label: str, required: bool = True) -> str:
    value = body.get(field, "")
    if not isinstance(value, str):
        raise ApiError(400, f"{label} must be text", field)
    value = value.strip()
    if required and not value:
        raise ApiError(400, f"{label} is required", field)
    return value


def name(body: dict[str, Any], field: str = "name", label: str = "Name") -> str:
    value = text(body, field, label)
    if not NAME.match(value):
        raise ApiError(
            400,
            f"{label} may use letters, digits and _ . + - (up to 64, not starting with . + -)",
            field,
        )
    return value


def integer(body: dict[str, Any], field: str, label: str, low: int, high: int) -> int:
    value = body.get(field)
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ApiError(400, f"{label} must be a whole number", field) from None
    if not low <= number <= high:
        raise ApiError(400, f"{label} must be between {low} and {high}", field)
    return number


def choice(body: dict[str, Any], field: str, label: str, options: tuple[str, ...]) -> str:
    value = body.get(field, options[0])
    if value not in options:
        raise ApiError(400, f"{label} must be one of {', '.join(options)}", field)
    return value


def absolute_path(body: dict[str, Any], field: str, label: str, required: bool) -> str:
    value = text(body, field, label, required)
    if value and not value.startswith("/"):
        raise ApiError(400, f"{label} must be an absolute path", field)
    return value
