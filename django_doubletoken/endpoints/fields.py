"""The input rules of the token fields (``refresh``, ``token``) and of a re-authentication's
body (``method``, ``password``), free of any framework.

They are DRF's ``CharField`` rules with the app's length bound, message for message and code
for code (a test runs both on the same bodies), so that a DRF serializer built on
``serializers.TokenField`` and these functions refuse alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .. import reauthentication
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


# As the login serializer's password field.
MAX_PASSWORD_LENGTH = 4096


def password_field(data: Any) -> str:
    """``data["password"]``, as the login serializer's field takes it (not trimmed);
    ``InvalidInput`` naming what is wrong."""
    value = str(_given_value(data, "password"))
    if len(value) > MAX_PASSWORD_LENGTH:
        raise _invalid("password", _("Ensure this field has no more than {max_length} "
                                     "characters.").format(max_length=MAX_PASSWORD_LENGTH),
                       "max_length")
    if "\x00" in value:
        raise _invalid("password", _("Null characters are not allowed."),
                       "null_characters_not_allowed")
    return value


def reauthentication_method(data: Any) -> reauthentication.Method:
    """The method a ``reauthenticate/`` body names (``method``, default ``password``);
    ``InvalidInput`` for a body that is no object, names no known method, or (the password)
    lacks its field: refused before any query."""
    if not isinstance(data, Mapping):
        raise _invalid("non_field_errors",
                       _("Invalid data. Expected a dictionary, but got {datatype}.").format(
                           datatype=type(data).__name__), "invalid")
    name = data.get("method", reauthentication.PASSWORD) or reauthentication.PASSWORD
    known = reauthentication.methods()
    if not isinstance(name, str) or name not in known:
        raise _invalid("method", _("Unknown method; expected one of: {names}.").format(
            names=", ".join(known)), "invalid_choice")
    if name == reauthentication.PASSWORD:
        password_field(data)
    return known[name]


def invalid_input(error: ValidationError) -> InvalidInput:
    """A verifier's ``ValidationError`` as field errors (``non_field_errors`` without a
    field)."""
    errors = error.message_dict if hasattr(error, "error_dict") else {
        "non_field_errors": error.messages}
    code = getattr(error, "code", None) or "invalid"
    return InvalidInput({name: [Message(text, code) for text in texts]
                         for name, texts in errors.items()})
