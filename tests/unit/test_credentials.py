"""Credentials by name: environment, then a private file; never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from mspctl.credentials import CredentialsNotFoundError, CredentialStore
from mspctl.errors import ConfigError
from mspctl.redact import redact


def test_from_environment() -> None:
    store = CredentialStore(env={"MSPCTL_CRED_ACME_NETOPS_USERNAME": "netops",
                                 "MSPCTL_CRED_ACME_NETOPS_PASSWORD": "pw-acme-1",
                                 "MSPCTL_CRED_ACME_NETOPS_SECRET": "en-acme-1"}, file=Path("/nonexistent"))
    creds = store.get("acme-netops")
    assert (creds.username, creds.password, creds.secret) == ("netops", "pw-acme-1", "en-acme-1")
    assert "pw-acme-1" not in repr(creds)
    assert redact("login with pw-acme-1 / en-acme-1") == "login with ******** / ********"


def test_from_private_file(tmp_path: Path) -> None:
    f = tmp_path / "credentials.toml"
    f.write_text('[globex-netops]\nusername = "ops"\npassword = "pw-globex"\n')
    f.chmod(0o600)
    creds = CredentialStore(env={}, file=f).get("globex-netops")
    assert creds.username == "ops" and creds.secret == "" and creds.source == str(f)


def test_environment_wins_over_file(tmp_path: Path) -> None:
    f = tmp_path / "credentials.toml"
    f.write_text('[x]\nusername = "file"\npassword = "p1"\n')
    f.chmod(0o600)
    env = {"MSPCTL_CRED_X_USERNAME": "env", "MSPCTL_CRED_X_PASSWORD": "p2"}
    assert CredentialStore(env=env, file=f).get("x").username == "env"


def test_world_readable_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "credentials.toml"
    f.write_text('[x]\nusername = "u"\npassword = "p"\n')
    f.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        CredentialStore(env={}, file=f).get("x")


def test_malformed_file_does_not_echo_secrets(tmp_path: Path) -> None:
    f = tmp_path / "credentials.toml"
    f.write_text('[x]\nusername = "u"\npassword = "topsecret\n')
    f.chmod(0o600)
    with pytest.raises(ConfigError) as exc:
        CredentialStore(env={}, file=f).get("x")
    assert str(exc.value).startswith(f"MSP-CFG-001: {f}:3:")
    assert "topsecret" not in str(exc.value)


def test_missing_names_the_ways_to_provide_it(tmp_path: Path) -> None:
    with pytest.raises(CredentialsNotFoundError) as exc:
        CredentialStore(env={}, file=tmp_path / "none.toml").get("initech-netops", for_what="client initech")
    msg = str(exc.value)
    assert msg.startswith("MSP-CRED-404: no credentials named 'initech-netops' (needed by client initech)")
    assert "MSPCTL_CRED_INITECH_NETOPS_USERNAME" in msg
