"""Device credentials, resolved by name. The MSP repository only ever holds the name.

A client's entry in ``inventory/clients.yml`` says ``credentials: acme-netops``; the secret
itself comes from, in order:

1. the environment: ``MSPCTL_CRED_ACME_NETOPS_USERNAME``, ``..._PASSWORD``, ``..._SECRET``
   (the enable secret; optional);
2. a credentials file (``MSPCTL_CREDENTIALS_FILE``, default ``~/.config/mspctl/credentials.toml``),
   readable by its owner only, with one table per name::

       [acme-netops]
       username = "netops"
       password = "..."
       secret = "..."

3. the system keyring, when the ``keyring`` package is installed (service ``mspctl``, user
   ``<name>``, the value a JSON object with username/password/secret).

Every secret found is registered with `mspctl.redact`, so it is masked wherever it might
surface: logs, reports, backups, exceptions.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from mspctl.errors import ConfigError, MspctlError
from mspctl.redact import register_secret


class CredentialsNotFoundError(MspctlError):
    code = "MSP-CRED-404"
    exit_code = 13


@dataclass(frozen=True)
class Credentials:
    name: str
    username: str
    password: str = field(repr=False)
    secret: str = field(default="", repr=False)  # enable secret
    source: str = ""


def default_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mspctl" / "credentials.toml"


def _env_prefix(name: str) -> str:
    return "MSPCTL_CRED_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class CredentialStore:
    """Looks credentials up by name; caches what it found for the run."""

    def __init__(self, env: Mapping[str, str] | None = None, file: Path | None = None) -> None:
        self._env = os.environ if env is None else env
        self._file = file or (Path(self._env["MSPCTL_CREDENTIALS_FILE"]) if self._env.get("MSPCTL_CREDENTIALS_FILE")
                              else default_file())
        self._file_data: dict[str, dict[str, str]] | None = None
        self._found: dict[str, Credentials] = {}

    def get(self, name: str, *, for_what: str = "") -> Credentials:
        if name in self._found:
            return self._found[name]
        creds = self._from_env(name) or self._from_file(name) or self._from_keyring(name)
        if creds is None:
            prefix = _env_prefix(name)
            raise CredentialsNotFoundError(
                f"no credentials named {name!r}" + (f" (needed by {for_what})" if for_what else ""),
                hint=f"set {prefix}_USERNAME and {prefix}_PASSWORD, or add [{name}] to {self._file}")
        for value in (creds.password, creds.secret):
            register_secret(value)
        self._found[name] = creds
        return creds

    def register_all(self, names: Iterable[str] = ()) -> None:
        """Register every secret this store can find with `mspctl.redact` without needing a device:
        the environment's ``MSPCTL_CRED_*_PASSWORD``/``_SECRET``, every table of the credentials
        file, and `names` (the clients' references, which may live in the keyring). A name that
        cannot be resolved is skipped."""
        for key, value in self._env.items():
            if key.startswith("MSPCTL_CRED_") and key.endswith(("_PASSWORD", "_SECRET")):
                register_secret(value)
        if self._file_data is None:
            self._file_data = self._read_file()
        for name in {*self._file_data, *names}:
            with contextlib.suppress(MspctlError):
                self.get(name)

    def _from_env(self, name: str) -> Credentials | None:
        prefix = _env_prefix(name)
        user, password = self._env.get(f"{prefix}_USERNAME"), self._env.get(f"{prefix}_PASSWORD")
        if not user or password is None:
            return None
        return Credentials(name, user, password, self._env.get(f"{prefix}_SECRET", ""), source=f"${prefix}_*")

    def _from_file(self, name: str) -> Credentials | None:
        if self._file_data is None:
            self._file_data = self._read_file()
        entry = self._file_data.get(name)
        if entry is None:
            return None
        if not entry.get("username") or "password" not in entry:
            raise ConfigError(f"{self._file}: [{name}] needs username and password")
        return Credentials(name, entry["username"], entry["password"], entry.get("secret", ""), source=str(self._file))

    def _read_file(self) -> dict[str, dict[str, str]]:
        path = self._file
        if not path.is_file():
            return {}
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path}: credentials file is readable by others (mode {stat.S_IMODE(mode):o})",
                              hint=f"chmod 600 {path}")
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            m = re.search(r"line (\d+)", str(exc))
            # Never echo the file's content: it holds secrets.
            raise ConfigError(f"{path}:{m.group(1) if m else 1}: invalid TOML in credentials file") from None
        out: dict[str, dict[str, str]] = {}
        for key, value in data.items():
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{path}: [{key}] must be a table of strings")
            out[key] = value
        return out

    def _from_keyring(self, name: str) -> Credentials | None:
        try:
            import keyring
        except ImportError:
            return None
        raw = keyring.get_password("mspctl", name)
        if not raw:
            return None
        try:
            data = json.loads(raw)
            return Credentials(name, data["username"], data["password"], data.get("secret", ""), source="keyring")
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"keyring entry mspctl/{name} is not a JSON object with username and password") from None
