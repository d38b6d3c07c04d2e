"""mspctl/redact.py: secrets never reach output, logs or error messages."""

from __future__ import annotations

import logging

import pytest

from mspctl.errors import ConfigError, MspctlError
from mspctl.redact import MASK, RedactingFilter, redact, register_secret


def test_registered_secret_is_masked_everywhere_it_appears() -> None:
    register_secret("s3cr3t-value")
    assert redact("a s3cr3t-value b s3cr3t-value") == f"a {MASK} b {MASK}"


def test_text_without_secrets_is_unchanged() -> None:
    register_secret("s3cr3t-value")
    assert redact("GET https://netbox.example/api/ 200") == "GET https://netbox.example/api/ 200"


@pytest.mark.parametrize("value", [None, "", "abc"])
def test_empty_and_short_values_are_not_registered(value: str | None) -> None:
    register_secret(value)
    assert redact("abc abcd") == "abc abcd"


def test_longer_secret_wins_over_its_prefix() -> None:
    register_secret("abcd")
    register_secret("abcdefgh")
    assert redact("x abcdefgh y abcd") == f"x {MASK} y {MASK}"


def test_netbox_v2_token_is_masked_without_registration() -> None:
    out = redact("token nbt_AbC123xyz.Zz9876543 was rejected")
    assert "nbt_" not in out
    assert "Zz9876543" not in out
    assert out == f"token {MASK} was rejected"


@pytest.mark.parametrize("header", ["Bearer", "Token", "bearer", "token"])
def test_authorization_header_value_is_masked(header: str) -> None:
    out = redact(f"Authorization: {header} 0123456789abcdef0123456789abcdef01234567")
    assert out == f"Authorization: {header} {MASK}"


def test_bearer_v2_token_is_masked() -> None:
    out = redact("Authorization: Bearer nbt_key123.secret456")
    assert "key123" not in out
    assert "secret456" not in out


def test_short_word_after_token_is_not_a_secret() -> None:
    assert redact("Token expired") == "Token expired"


def test_error_str_masks_registered_secret_in_message_and_hint() -> None:
    register_secret("tok-0123456789")
    err = ConfigError("rejected tok-0123456789", hint="rotate tok-0123456789")
    assert "tok-0123456789" not in str(err)
    assert str(err) == f"MSP-CFG-001: rejected {MASK} (rotate {MASK})"


def test_error_str_masks_unregistered_token_shapes() -> None:
    err = MspctlError("upstream said: bad header Token 0123456789abcdef0123456789abcdef01234567")
    assert "0123456789abcdef" not in str(err)


def test_redacting_filter_masks_formatted_record() -> None:
    register_secret("hunter2-password")
    record = logging.LogRecord("mspctl", logging.INFO, __file__, 1, "login with %s as %s",
                               ("hunter2-password", "admin"), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == f"login with {MASK} as admin"
    assert record.args is None


def test_redacting_filter_on_a_logger(caplog: pytest.LogCaptureFixture) -> None:
    register_secret("hunter2-password")
    logger = logging.getLogger("mspctl.test_redact")
    flt = RedactingFilter()
    logger.addFilter(flt)
    try:
        with caplog.at_level(logging.INFO, logger="mspctl.test_redact"):
            logger.info("connecting with %s and Bearer %s", "hunter2-password", "abcdefghijklmnopqrstuvwxyz")
    finally:
        logger.removeFilter(flt)
    assert caplog.messages == [f"connecting with {MASK} and Bearer {MASK}"]
    assert "hunter2" not in caplog.text
