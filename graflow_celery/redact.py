"""Text that is safe to store, raise or log: passwords in URLs masked, exceptions always printable.

Like kombu's ``maybe_sanitize_url``, but for URLs anywhere inside a longer text (an exception
message, a traceback): ``redis://:s3cret@host:6379/0`` becomes ``redis://:**@host:6379/0`` and
``amqp://user:pw@host//`` becomes ``amqp://user:**@host//``, for any scheme.
"""

from __future__ import annotations

import re
import traceback

# scheme://user:password@ - the password runs to the last "@" before the end of the host part,
# so a password that itself holds an unescaped "@" is masked whole.
_URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*):[^\s/?#]*@")

MASK = "**"


def redact(text: str) -> str:
    return _URL_PASSWORD.sub(lambda m: f"{m['head']}:{MASK}@", text)


def exception_message(exc: BaseException) -> str:
    """``str(exc)`` with passwords masked, or ``<unprintable Type>`` when ``__str__`` raises."""
    try:
        text = str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"
    return redact(text)


def describe(exc: BaseException) -> str:
    """``Type: message``, safe to log."""
    return f"{type(exc).__name__}: {exception_message(exc)}"


def exception_traceback(exc: BaseException) -> str:
    try:
        text = "".join(traceback.format_exception(exc))
    except Exception:
        return describe(exc)
    return redact(text)
