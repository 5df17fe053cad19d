"""Validation helpers for contact data that ends up in e-mail headers.

They raise ``ValueError`` naming the field, so pydantic validators can call them directly.
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

_LINE_BREAKING = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # Unicode categories Cc, Zl and Zp


def check_header_value(field_name: str, value: str) -> str:
    """Return ``value`` unchanged, or refuse it if it holds CR, LF or any other control character.

    A line break in a header value would let a contact's name inject headers into a message.
    """
    found = _LINE_BREAKING.search(value)
    if found:
        raise ValueError(
            f"{field_name} must not contain line breaks or control characters "
            f"(found U+{ord(found.group()):04X} at position {found.start()})"
        )
    return value


def check_email_address(value: str, field_name: str = "email") -> str:
    """Return the normalized form of an e-mail address, or refuse one that does not parse.

    Internationalized domains are accepted; non-ASCII local parts (which need SMTPUTF8 all the
    way to the recipient) are refused.
    """
    check_header_value(field_name, value)
    try:
        return validate_email(value, check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"{field_name} is not a valid e-mail address: {error}") from None
