"""Passwords in URLs inside any text are masked; exceptions always render."""

from __future__ import annotations

import pytest

from graflow_celery.redact import describe, exception_message, exception_traceback, redact


@pytest.mark.parametrize(("text", "expected"), [
    ("redis://:s3cret@host:6379/0", "redis://:**@host:6379/0"),
    ("amqp://user:pw@host//", "amqp://user:**@host//"),
    ("rediss://u:p:w@h:6380/1?ssl_cert_reqs=none", "rediss://u:**@h:6380/1?ssl_cert_reqs=none"),
    ("sentinel://:a@h1:26379;sentinel://:b@h2:26379", "sentinel://:**@h1:26379;sentinel://:**@h2:26379"),
    ("cannot reach 'redis://:p@ss@db:6379/0' (refused)", "cannot reach 'redis://:**@db:6379/0' (refused)"),
    ("no password: redis://db:6379/0 and redis://user@db", "no password: redis://db:6379/0 and redis://user@db"),
    ("two: redis://:a@x/0, amqp://u:b@y//", "two: redis://:**@x/0, amqp://u:**@y//"),
])
def test_redact_masks_passwords_of_urls_inside_text(text, expected):
    assert redact(text) == expected


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no")


def test_exceptions_render_even_when_str_raises():
    assert exception_message(Unprintable()) == "<unprintable Unprintable>"
    assert describe(ValueError("at redis://:pw@h/0")) == "ValueError: at redis://:**@h/0"
    try:
        raise ValueError("at amqp://u:pw@h//")
    except ValueError as exc:
        text = exception_traceback(exc)
    assert "Traceback" in text and "amqp://u:**@h//" in text and "pw@" not in text
    assert "Unprintable" in exception_traceback(Unprintable())
