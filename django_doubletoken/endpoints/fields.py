"""The input rules of the token fields (``refresh``, ``token``), free of any framework.

They are DRF's ``CharField`` rules with the app's length bound, message for message and code
for code (a test runs both on the same bodies), so that a DRF serializer built on
``serializers.TokenField`` and these functions refuse alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext_lazy as _

from ..conf import doubletoken_settings


class Message(str):
    """A validation message with its machine-readable code (as DRF's ``ErrorDetail``)."""

    code: str

    def __new__(cls, text: Any, code: str) -> Message:
        message = super().__new__(cls, str(text))
        message.code = code
        return message


class InvalidInput(Exception):
    """Fields that failed validation: ``{"field": [Message, ...]}``."""

    def __init__(self, errors: dict[str, list[Message]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _invalid(name: str, text: Any, code: str) -> InvalidInput:
    return InvalidInput({name: [Message(text, code)]})


def _first_surrogate(value: str) -> str | None:
    if value.isascii():  # every genuine token: no walk at all
        return None
    return next((c for c in value if 0xD800 <= ord(c) <= 0xDFFF), None)


def token_field(data: Any, name: str) -> str:
    """The token in ``data[name]``, trimmed; ``InvalidInput`` naming what is wrong."""
    value = str(_given_value(data, name)).strip()
    if len(value) > doubletoken_settings.MAX_TOKEN_LENGTH:
        raise _invalid(name, _("The token is too long."), "max_length")
    # Like DRF's validators, both checks run and each failure is listed.
    errors = []
    if "\x00" in value:
        errors.append(Message(_("Null characters are not allowed."), "null_characters_not_allowed"))
    surrogate = _first_surrogate(value)
    if surrogate is not None:
        errors.append(Message(_("Surrogate characters are not allowed: U+{code_point:X}.").format(
            code_point=ord(surrogate)), "surrogate_characters_not_allowed"))
    if errors:
        raise InvalidInput({name: errors})
    return value


def _given_value(data: Any, name: str) -> str | int | float:
    """``data[name]`` when it is a non-blank string or number, as DRF's ``CharField`` takes it."""
    if data is None:
        raise _invalid("non_field_errors", _("No data provided"), "null")
    if not isinstance(data, Mapping):
        raise _invalid("non_field_errors",
                       _("Invalid data. Expected a dictionary, but got {datatype}.").format(
                           datatype=type(data).__name__), "invalid")
    if name not in data:
        raise _invalid(name, _("This field is required."), "required")
    value = data[name]  # a QueryDict gives the last value, as DRF reads a form
    if value is None:
        raise _invalid(name, _("This field may not be null."), "null")
    if value == "" or str(value).strip() == "":
        raise _invalid(name, _("This field may not be blank."), "blank")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _invalid(name, _("Not a valid string."), "invalid")
    return value
