"""Request and e-mail headers in watchkeeper.yml: their values are secrets.

``headers: {Authorization: "Bearer ${TOKEN}"}`` is how a scrape or a probe
authenticates, so every header value is a ``SecretStr``: shown as
``**********`` in reprs, logs, dumps and error messages. The code that sends
the headers asks for the real values with ``header_values()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, SecretStr

from watchkeeper.config.base import field_error

__all__ = ["HttpHeaders", "MailHeaders", "header_values"]

#: RFC 9110 field names: what both HTTP and e-mail (RFC 5322, minus ':') accept.
_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")


def header_values(headers: Mapping[str, SecretStr]) -> dict[str, str]:
    """The headers as they are sent: call only where they leave the process."""
    return {name: value.get_secret_value() for name, value in headers.items()}


def _as_text(headers: object) -> object:
    # Refuse a number or a list here, with a message that never shows the
    # value: pydantic's own would print it (a token can be all digits).
    if not isinstance(headers, dict):
        return headers
    for name, value in headers.items():
        if not isinstance(value, str | SecretStr):
            raise field_error(
                str(name),
                f"the value of header {name!r} must be a string, got a {_kind(value)} "
                "(quote it in YAML; the value is not shown)",
            )
    return headers


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "list" if isinstance(value, list) else "mapping"


def _checked(*, single_line: bool) -> AfterValidator:
    def check(headers: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, value in headers.items():
            if not _NAME.match(name):
                raise field_error(
                    name,
                    f"invalid header name {name!r}: use letters, digits and - (no spaces or ':')",
                )
            if single_line and ("\n" in (text := value.get_secret_value()) or "\r" in text):
                raise field_error(
                    name,
                    f"the value of header {name!r} contains a line break, which HTTP does "
                    "not allow (the value is not shown)",
                )
        return headers

    return AfterValidator(check)


#: Headers of HTTP requests (scrapes, probes): secret values on one line.
HttpHeaders = Annotated[dict[str, SecretStr], BeforeValidator(_as_text), _checked(single_line=True)]
#: Headers of e-mails: secret values; runs of white space are sent as one space.
MailHeaders = Annotated[
    dict[str, SecretStr], BeforeValidator(_as_text), _checked(single_line=False)
]
