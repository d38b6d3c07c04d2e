"""Settings: built-in defaults, then files, then the environment, then command-line flags.

Precedence, lowest first (docs/configuration.md):

1. built-in defaults;
2. the user's file, ``<user config dir>/mspctl/mspctl.toml``;
3. the MSP repository's ``mspctl.toml``, found in the working directory or a parent;
   (``--config FILE`` or ``MSPCTL_CONFIG`` replaces 2 and 3 with that one file);
4. ``NETBOX_API`` / ``NETBOX_TOKEN`` (the netbox.netbox collection's names);
5. ``MSPCTL_*`` variables (``MSPCTL_NETBOX_URL``, ``MSPCTL_NETBOX_TOKEN``, ``MSPCTL_CACHE_TTL`` ...);
6. flags (``--netbox-url``, ``--netbox-token``, ``--insecure`` ...).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mspctl.errors import ConfigError, UnknownPluginError
from mspctl.files import read_text
from mspctl.redact import register_secret

FILE_NAME = "mspctl.toml"


@dataclass(frozen=True)
class NetBoxSettings:
    url: str | None = None
    token: str | None = field(default=None, repr=False)
    verify_tls: bool = True
    timeout: float = 30.0
    page_size: int = 1000
    workers: int = 4
    graphql: bool = True  # full reads through GraphQL; false forces REST (e.g. GRAPHQL_ENABLED off)
    retries: int = 2  # extra attempts of a read after a dropped connection or a 502/503/504, with backoff


@dataclass(frozen=True)
class CacheSettings:
    path: Path = field(default_factory=lambda: _default_cache_dir() / "inventory")
    ttl: int = 300  # seconds a cached inventory is served without asking NetBox


@dataclass(frozen=True)
class DeviceSettings:
    """How mspctl reaches network devices (Netmiko over SSH)."""

    ssh_port: int = 22
    workers: int = 16  # devices worked on at once
    timeout: float = 60.0  # seconds per device, retries included
    retries: int = 1  # extra attempts on connection errors, with jittered backoff


@dataclass(frozen=True)
class PushSettings:
    """How `config push` guards a change (see docs/network.md, "Safe change")."""

    # Minutes a device waits for mspctl's confirmation before reverting by itself (EOS commit
    # timer, IOS revert timer): longer than sending, post-check and save take.
    revert_minutes: int = 10
    # A plan that would remove more than this share of a device's configuration lines (or any
    # interface) is refused unless --allow-destructive.
    max_remove_share: float = 0.2


@dataclass(frozen=True)
class RenderSettings:
    """Limits on one device's render (docs/network.md, "Render limits"). NetBox config
    templates are written by anyone with NetBox write access: a loop or a string must not hold
    a run for minutes or fill its memory. A render over a limit fails that device only."""

    template_timeout: float = 10.0  # seconds of rendering per device
    max_output_bytes: int = 1_000_000  # of one rendered config, and of any one string or list built on the way
    max_loop_iterations: int = 1_000_000  # {% for %} steps of one render, all loops together


@dataclass(frozen=True)
class ConfigSettings:
    """Where the MSP repository keeps templates, compliance features, backups and run records."""

    templates: Path = Path("templates")
    features: Path = Path("templates/features.yml")
    backups: Path = field(default_factory=lambda: _default_data_dir() / "backups")  # a git repo, made on first use
    records: Path = field(default_factory=lambda: _default_cache_dir() / "records.sqlite")


@dataclass(frozen=True)
class RecordsSettings:
    """Where the run history lives when it is not the embedded SQLite file `[config] records`:
    a PostgreSQL database a team shares (``postgresql+psycopg://user:pass@host/db``, docs/history.md)."""

    url: str | None = None


@dataclass(frozen=True)
class ExecutorSettings:
    """Where runs execute (docs/scale.md): ``local`` (threads and processes of this machine, the
    default: no broker needed) or ``celery`` (batches of targets on `mspctl worker` machines, over
    a Redis broker). The broker URL may carry a password: it is registered as a secret."""

    backend: str = "local"
    broker_url: str = field(default="", repr=False)
    batch_size: int = 25  # targets per batch sent to a worker
    queue: str = "mspctl"
    # Seconds after which the broker hands a batch a worker took but never acknowledged (the
    # worker died or went dark) to another worker; must exceed the longest batch.
    visibility_timeout: int = 3600
    ping_timeout: float = 3.0  # seconds a run waits for some worker to answer before it starts



@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go (docs/notify.md): Apprise URLs (Teams, Slack, e-mail, a JSON
    webhook). Empty: nothing is sent. URLs often carry tokens: they are registered as secrets."""

    urls: tuple[str, ...] = field(default=(), repr=False)


@dataclass(frozen=True)
class PatchSettings:
    """How mspctl patches servers (Ansible through ansible-runner, over SSH)."""

    baselines: Path = Path("baselines")  # the baseline YAML files (repository-relative)
    playbooks: Path = Path("playbooks")
    forks: int = 20  # hosts worked on at once inside one batch
    canary: int = 1  # hosts in the first batch; the rest follow in batches of `batch_size`
    canary_must_pass: bool = True  # a failed canary host stops the rollout, whatever max_fail_percent says
    batch_size: int = 0  # 0: all remaining hosts in one batch
    max_fail_percent: int = 25  # stop starting batches once more than this share of hosts failed
    stale_after: int = 7 * 86400  # seconds after which scan evidence is STALE
    ssh_config: Path | None = None  # an OpenSSH config for the hosts (jump hosts, keys, known_hosts)
    # seconds to wait for a host's SSH connection before it is UNREACHABLE (Ansible's `timeout`,
    # which it puts on ssh's command line ahead of the SSH config's ConnectTimeout)
    connect_timeout: int = 10
    state: Path = field(default_factory=lambda: _default_state_dir() / "windows")  # locks and resumable windows
    # "pin": each host's SSH host key is recorded at first contact under its NetBox object (not its
    # address) in `known_hosts`, and checked strictly on every later run. "ssh": the SSH config's
    # own known_hosts decides, strictly (an unknown host is refused).
    host_keys: str = "pin"
    known_hosts: Path = field(default_factory=lambda: _default_state_dir() / "known_hosts")


_DEFAULT_TIERS: Mapping[str, Mapping[str, int]] = {
    "gold": {"patch_days": 7, "drift_days": 2},
    "silver": {"patch_days": 14, "drift_days": 7},
    "bronze": {"patch_days": 30, "drift_days": 14},
}


@dataclass(frozen=True)
class SlaSettings:
    """How fast each SLA tier (a NetBox tenant's ``sla_tier``) wants security updates in effect
    (`patch_days` after they became available) and drift fixed (`drift_days` after it was found);
    a client without a known tier gets the defaults (docs/reports.md)."""

    patch_days: int = 14
    drift_days: int = 7
    tiers: Mapping[str, Mapping[str, int]] = field(default_factory=lambda: dict(_DEFAULT_TIERS))

    def for_tier(self, tier: str | None) -> tuple[str, int, int]:
        """(tier name, patch days, drift days); an unknown or missing tier: ``default``."""
        spec = self.tiers.get(tier or "")
        if spec is None:
            return "default", self.patch_days, self.drift_days
        return str(tier), int(spec.get("patch_days", self.patch_days)), int(spec.get("drift_days", self.drift_days))


@dataclass(frozen=True)
class Settings:
    netbox: NetBoxSettings = field(default_factory=NetBoxSettings)
    cache: CacheSettings = field(default_factory=CacheSettings)
    repo: Path = field(default_factory=Path.cwd)  # the MSP repository root (inventory/, templates/)
    clients_file: Path = Path("inventory/clients.yml")
    platforms: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    devices: DeviceSettings = field(default_factory=DeviceSettings)
    config: ConfigSettings = field(default_factory=ConfigSettings)
    patch: PatchSettings = field(default_factory=PatchSettings)
    push: PushSettings = field(default_factory=PushSettings)
    render: RenderSettings = field(default_factory=RenderSettings)
    records: RecordsSettings = field(default_factory=RecordsSettings)
    notify: NotifySettings = field(default_factory=NotifySettings)
    executor: ExecutorSettings = field(default_factory=ExecutorSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    sources: tuple[str, ...] = ()  # the files and variables that were read, for `mspctl settings show`

    def path(self, p: Path) -> Path:
        """A repository-relative setting as an absolute path."""
        return p if p.is_absolute() else self.repo / p

    @property
    def clients_path(self) -> Path:
        return self.path(self.clients_file)

    @property
    def records_location(self) -> Path | str:
        """The run history: `[records] url` (PostgreSQL) when set, else the SQLite file."""
        return self.records.url or self.config.records


# XDG locations are the platform's, not mspctl settings: always read from the process environment.
def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mspctl"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "mspctl"


def _default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "mspctl"


def user_config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "mspctl" / FILE_NAME


def find_repo_file(start: Path) -> Path | None:
    for folder in (start, *start.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    return None


_SCHEMA: dict[str, dict[str, type | tuple[type, ...]]] = {
    "netbox": {"url": str, "token": str, "verify_tls": bool, "timeout": (int, float),
               "page_size": int, "workers": int, "graphql": bool, "retries": int},
    "cache": {"path": str, "ttl": (int, str)},
    "inventory": {"clients_file": str},
    "devices": {"ssh_port": int, "workers": int, "timeout": (int, float), "retries": int},
    "config": {"templates": str, "features": str, "backups": str, "records": str},
    "patch": {"baselines": str, "playbooks": str, "forks": int, "canary": int, "canary_must_pass": bool,
              "batch_size": int,
              "max_fail_percent": int, "stale_after": (int, str), "ssh_config": str, "state": str,
              "connect_timeout": int,
              "host_keys": str, "known_hosts": str},
    "push": {"revert_minutes": int, "max_remove_share": (int, float)},
    "render": {"template_timeout": (int, float, str), "max_output_bytes": int, "max_loop_iterations": int},
    "records": {"url": str},
    "executor": {"backend": str, "broker_url": str, "batch_size": int, "queue": str, "visibility_timeout": int,
                 "ping_timeout": (int, float)},
    "notify": {"urls": list},
    "sla": {"patch_days": int, "drift_days": int, "tiers": dict},
}


def _line_of(text: str, key: str, section: str | None = None) -> int:
    """Best-effort line number of `key` (inside `[section]`) in TOML `text`; 1 when not found."""
    in_section = section is None
    for no, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            name = stripped.strip("[] \t")
            if section is not None:
                in_section = name == section or name.startswith(section + ".")
            if section is None and name == key:
                return no
            if section is not None and name == f"{section}.{key}":
                return no
        elif in_section and re.match(rf"{re.escape(key)}\s*=", stripped):
            return no
    return 1


def parse_duration(value: int | str, where: str) -> int:
    """`300`, `"300"`, `"45s"`, `"5m"`, `"2h"` -> seconds."""
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"{where}: a duration cannot be negative")
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", value)
    if not m:
        raise ConfigError(f"{where}: {value!r} is not a duration", hint="use seconds or 30s, 5m, 2h, 1d")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


_PLATFORM_KEYS = ("netmiko", "ansible_network_os", "ansible_connection", "os_family", "driver")


def _check_driver(name: str, where: str) -> None:
    """`name` must be an installed ``mspctl.drivers`` plugin (checked by name: nothing is loaded)."""
    from mspctl.plugins import DRIVERS

    if name not in DRIVERS:
        raise UnknownPluginError(f"{where} = {name!r}: no device driver plugin of that name",
                                 hint=f"installed: {', '.join(DRIVERS.names()) or 'none'} "
                                      "(see `mspctl plugins list`)")


def read_file(path: Path) -> dict[str, Any]:
    """Parse and validate one settings file. Errors start with ``file:line:``."""
    try:
        text = read_text(path)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read settings file: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        # "at end of document" carries no line number: that is the file's last line.
        line = m.group(1) if m else str(len(text.splitlines()) or 1)
        raise ConfigError(f"{path}:{line}: invalid TOML: {exc}") from None
    for section, value in data.items():
        if section == "platforms":
            if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
                raise ConfigError(f"{path}:{_line_of(text, section)}: [platforms.<slug>] tables expected")
            for slug, mapping in value.items():
                for k, v in mapping.items():
                    if k not in _PLATFORM_KEYS or not isinstance(v, str):
                        raise ConfigError(
                            f"{path}:{_line_of(text, k, f'platforms.{slug}')}: platforms.{slug}.{k}: "
                            "expected netmiko, ansible_network_os, ansible_connection, os_family or driver "
                            "as strings")
                    if k == "driver":
                        _check_driver(v, f"{path}:{_line_of(text, k, f'platforms.{slug}')}: platforms.{slug}.driver")
            continue
        if section not in _SCHEMA:
            raise ConfigError(f"{path}:{_line_of(text, section)}: unknown section [{section}]",
                              hint=f"known: {', '.join(sorted([*_SCHEMA, 'platforms']))}")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}:{_line_of(text, section)}: [{section}] must be a table")
        for key, item in value.items():
            line = _line_of(text, key, section)
            expected = _SCHEMA[section].get(key)
            if expected is None:
                raise ConfigError(f"{path}:{line}: unknown key {section}.{key}",
                                  hint=f"known: {', '.join(sorted(_SCHEMA[section]))}")
            if not isinstance(item, expected) or (expected is not bool and isinstance(item, bool)):
                names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
                raise ConfigError(f"{path}:{line}: {section}.{key} must be {names}, not {type(item).__name__}")
            problem = _range_problem(section, key, item) or (_url_problem(item) if (section, key) == ("netbox", "url")
                                                              else None)
            if problem:
                raise ConfigError(f"{path}:{line}: {section}.{key} = {item!r} {problem}")
            if (section, key) == ("patch", "host_keys") and item not in HOST_KEY_MODES:
                raise ConfigError(f"{path}:{line}: patch.host_keys = {item!r}: expected one of "
                                  f"{', '.join(HOST_KEY_MODES)}",
                                  hint="pin: keys pinned per NetBox object at first contact; ssh: known_hosts only")
            if section == "push" and not _push_value_ok(key, item):
                raise ConfigError(f"{path}:{line}: push.{key} = {item!r} is out of range",
                                  hint="revert_minutes: 1 to 120; max_remove_share: 0 to 1")
            if (section, key) == ("sla", "tiers") and isinstance(item, dict):
                _check_tiers(path, text, item)
            if (section, key) in (("cache", "ttl"), ("patch", "stale_after")) and isinstance(item, int | str):
                value[key] = parse_duration(item, f"{path}:{line}: {section}.{key}")  # _SCHEMA: (int, str)
    render = data.get("render", {})
    if isinstance(render.get("template_timeout"), str):  # "10s", "2m"; numbers were range-checked above
        line = _line_of(text, "template_timeout", "render")
        seconds = parse_duration(render["template_timeout"], f"{path}:{line}: render.template_timeout")
        problem = _range_problem("render", "template_timeout", seconds)
        if problem:
            raise ConfigError(f"{path}:{line}: render.template_timeout = {render['template_timeout']!r} {problem}")
        render["template_timeout"] = float(seconds)
    if "token" in data.get("netbox", {}):
        register_secret(data["netbox"]["token"])
    if "urls" in data.get("notify", {}):
        _check_notify_urls(path, text, data["notify"]["urls"])
    return data


def _check_tiers(path: Path, text: str, tiers: dict[str, Any]) -> None:
    """``[sla.tiers.<name>]`` tables of ``patch_days`` / ``drift_days`` (whole days, 0 to 3650)."""
    for name, spec in tiers.items():
        line = _line_of(text, name, "sla.tiers")
        if not isinstance(spec, dict):
            raise ConfigError(f"{path}:{line}: sla.tiers.{name} must be a table of patch_days and drift_days")
        for key, days in spec.items():
            kline = _line_of(text, key, f"sla.tiers.{name}")
            if key not in ("patch_days", "drift_days"):
                raise ConfigError(f"{path}:{kline}: unknown key sla.tiers.{name}.{key}",
                                  hint="known: drift_days, patch_days")
            if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 3650:
                raise ConfigError(f"{path}:{kline}: sla.tiers.{name}.{key} must be whole days, 0 to 3650")


def _notify_label(index: int, url: str) -> str:
    from mspctl.notify import url_label

    return url_label(index, url)


def _notify_url_problem(url: str) -> str | None:
    """Apprise's verdict on `url` (mspctl.notify: Apprise is imported only when URLs are set)."""
    from mspctl.notify import url_problem

    register_secret(url)  # a webhook's path or a mail password: masked wherever it would show
    return url_problem(url)


def _check_notify_urls(path: Path, text: str, urls: list[Any]) -> None:
    """Each `[notify] urls` entry must be a string Apprise can send to; the error names the
    entry's own line (an array may span lines), never the URL's text (it may hold a token)."""
    key_line = _line_of(text, "urls", "notify")
    lines = text.splitlines()
    for i, url in enumerate(urls):
        line = key_line
        if isinstance(url, str):
            line = next((no for no in range(key_line, len(lines) + 1) if url in lines[no - 1]), key_line)
        if not isinstance(url, str):
            raise ConfigError(f"{path}:{line}: notify.urls[{i}] must be str, not {type(url).__name__}")
        problem = _notify_url_problem(url)
        if problem:
            raise ConfigError(f"{path}:{line}: notify.urls: URL {_notify_label(i, url)} {problem}",
                              hint="Apprise's URL formats: https://github.com/caronc/apprise/wiki; "
                                   "a JSON webhook is json://host:port/path (jsons:// for HTTPS)")


HOST_KEY_MODES = ("pin", "ssh")
# (section, key) -> (lowest, highest; None: no bound, inclusive) for numbers that have a sane range.
_RANGES: dict[tuple[str, str], tuple[float, float | None]] = {
    ("netbox", "timeout"): (0.1, 3600), ("netbox", "page_size"): (1, 100_000), ("netbox", "workers"): (1, 64),
    ("netbox", "retries"): (0, 10),
    ("devices", "ssh_port"): (1, 65535), ("devices", "workers"): (1, 1024), ("devices", "timeout"): (0.1, 3600),
    ("devices", "retries"): (0, 10),
    ("patch", "forks"): (1, 1000), ("patch", "canary"): (0, None), ("patch", "batch_size"): (0, None),
    ("patch", "max_fail_percent"): (0, 100), ("patch", "connect_timeout"): (1, 3600),
    ("render", "template_timeout"): (0.1, 3600), ("render", "max_output_bytes"): (1000, 1_000_000_000),
    ("render", "max_loop_iterations"): (1000, None),
    ("sla", "patch_days"): (0, 3650), ("sla", "drift_days"): (0, 3650),
    ("executor", "batch_size"): (1, 10_000), ("executor", "visibility_timeout"): (10, 7 * 86400),
    ("executor", "ping_timeout"): (0.1, 600),
}


def _executor(data: Mapping[str, Any]) -> ExecutorSettings:
    """`[executor]`, checked: a known backend, and a Redis broker for celery."""
    from mspctl.redact import register_secret

    settings = ExecutorSettings(**data)
    if settings.backend not in ("local", "celery"):
        from mspctl.errors import UnknownPluginError
        from mspctl.plugins import EXECUTORS

        if settings.backend not in EXECUTORS.names():
            raise UnknownPluginError(f"executor.backend = {settings.backend!r}: no such executor",
                                     hint=f"installed: {', '.join(EXECUTORS.names())} (`mspctl plugins list`)")
    if settings.broker_url:
        m = re.match(r"^[a-z+]+://[^:@/]*:([^@/]+)@", settings.broker_url)
        if m:
            register_secret(m.group(1))
    if settings.backend == "celery" and not settings.broker_url:
        raise ConfigError("executor.backend = 'celery' needs a broker",
                          hint="set [executor] broker_url = \"redis://HOST:6379/0\" or MSPCTL_BROKER_URL")
    return settings


def _range_problem(section: str, key: str, value: Any) -> str | None:
    """Why `value` is out of range for ``section.key`` (None: fine, or no range to check)."""
    bounds = _RANGES.get((section, key))
    if bounds is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    low, high = bounds
    if value < low or (high is not None and value > high):
        return f"must be {low:g} to {high:g}" if high is not None else f"must be {low:g} or more"
    return None


def _url_problem(url: Any) -> str | None:
    if isinstance(url, str) and url and not re.match(r"^https?://[^/\s]+", url):
        return "must start with http:// or https:// and name a host"
    return None



def _push_value_ok(key: str, value: Any) -> bool:
    if key == "revert_minutes":
        return bool(1 <= value <= 120)  # IOS accepts 1-120 minutes
    return bool(0 <= value <= 1)


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ConfigError(f"environment {name}={value!r}: expected true or false")


def _sla(data: Mapping[str, Any]) -> SlaSettings:
    tiers = {**_DEFAULT_TIERS, **{k: dict(v) for k, v in (data.get("tiers") or {}).items()}}
    return SlaSettings(**{k: v for k, v in data.items() if k != "tiers"}, tiers=tiers)


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the effective settings.

    `overrides` holds flag values as ``{"netbox": {"url": ...}, ...}``; None values are ignored.
    Raises ConfigError (file:line) for a malformed file or an invalid variable.
    """
    env = os.environ if env is None else env
    cwd = cwd or Path.cwd()
    data: dict[str, Any] = {}
    sources: list[str] = []
    explicit = config_file or (Path(env["MSPCTL_CONFIG"]) if env.get("MSPCTL_CONFIG") else None)
    repo_root = cwd
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"{explicit}: settings file not found", hint="check --config / MSPCTL_CONFIG")
        files = [explicit]
        repo_root = explicit.resolve().parent
    else:
        files = [f for f in (user_config_file(),) if f.is_file()]
        repo_file = find_repo_file(cwd)
        if repo_file is not None:
            files.append(repo_file)
            repo_root = repo_file.parent
    for f in files:
        data = _merge(data, read_file(f))
        sources.append(str(f))

    nb_env: dict[str, Any] = {}
    for name, key in (("NETBOX_API", "url"), ("NETBOX_TOKEN", "token"),
                      ("MSPCTL_NETBOX_URL", "url"), ("MSPCTL_NETBOX_TOKEN", "token")):
        if env.get(name):
            nb_env[key] = env[name]
            sources.append(f"${name}")
    if env.get("MSPCTL_INSECURE"):
        nb_env["verify_tls"] = not _env_bool("MSPCTL_INSECURE", env["MSPCTL_INSECURE"])
        sources.append("$MSPCTL_INSECURE")
    data = _merge(data, {"netbox": nb_env})
    cache_env: dict[str, Any] = {}
    if env.get("MSPCTL_CACHE_TTL"):
        cache_env["ttl"] = parse_duration(env["MSPCTL_CACHE_TTL"], "environment MSPCTL_CACHE_TTL")
    if env.get("MSPCTL_CACHE_PATH"):
        cache_env["path"] = env["MSPCTL_CACHE_PATH"]
    if env.get("MSPCTL_RECORDS_URL"):
        data = _merge(data, {"records": {"url": env["MSPCTL_RECORDS_URL"]}})
        sources.append("$MSPCTL_RECORDS_URL")
    for name, key in (("MSPCTL_EXECUTOR", "backend"), ("MSPCTL_BROKER_URL", "broker_url")):
        if env.get(name):
            data = _merge(data, {"executor": {key: env[name]}})
            sources.append(f"${name}")
    if env.get("MSPCTL_NOTIFY_URLS"):  # comma-separated; replaces the files' list
        urls = [u.strip() for u in env["MSPCTL_NOTIFY_URLS"].split(",") if u.strip()]
        for i, url in enumerate(urls):
            problem = _notify_url_problem(url)
            if problem:
                raise ConfigError(f"environment MSPCTL_NOTIFY_URLS: URL {_notify_label(i, url)} {problem}",
                                  hint="Apprise URLs, comma-separated: docs/notify.md")
        data = _merge(data, {"notify": {"urls": urls}})
        sources.append("$MSPCTL_NOTIFY_URLS")
    data = _merge(data, {"cache": cache_env})
    if overrides:
        cleaned = {sec: {k: v for k, v in vals.items() if v is not None} for sec, vals in overrides.items()}
        data = _merge(data, cleaned)

    nb = data.get("netbox", {})
    if nb.get("url"):
        nb["url"] = str(nb["url"]).rstrip("/")
    register_secret(nb.get("token"))
    cache = data.get("cache", {})
    if "path" in cache:
        p = Path(os.path.expanduser(cache["path"]))
        cache["path"] = p if p.is_absolute() else repo_root / p
    inv = data.get("inventory", {})
    if env.get("MSPCTL_DEVICE_PORT"):
        try:
            data.setdefault("devices", {})["ssh_port"] = int(env["MSPCTL_DEVICE_PORT"])
        except ValueError:
            raise ConfigError(f"environment MSPCTL_DEVICE_PORT={env['MSPCTL_DEVICE_PORT']!r}: not a port") from None
    for section, key, kind in (("devices", "timeout", float), ("devices", "retries", int),
                               ("devices", "workers", int), ("netbox", "timeout", float),
                               ("netbox", "retries", int), ("executor", "batch_size", int),
                               ("executor", "visibility_timeout", int)):
        name = f"MSPCTL_{section.upper()}_{key.upper()}"
        if env.get(name):
            try:
                data.setdefault(section, {})[key] = kind(env[name])
            except ValueError:
                raise ConfigError(f"environment {name}={env[name]!r}: not a number") from None
            sources.append(f"${name}")
    cfg = {k: Path(os.path.expanduser(v)) for k, v in data.get("config", {}).items()}
    for key in ("records", "backups"):  # stores live beside the settings file that names them
        if key in cfg and not cfg[key].is_absolute():
            cfg[key] = repo_root / cfg[key]
    push: dict[str, Any] = dict(data.get("push", {}))
    for key, kind in (("revert_minutes", int), ("max_remove_share", float)):
        name = f"MSPCTL_PUSH_{key.upper()}"
        if env.get(name):
            try:
                push[key] = kind(env[name])
            except ValueError:
                raise ConfigError(f"environment {name}={env[name]!r}: not a number") from None
            if not _push_value_ok(key, push[key]):
                raise ConfigError(f"environment {name}={env[name]!r}: out of range")
            sources.append(f"${name}")
    patch: dict[str, Any] = dict(data.get("patch", {}))
    for key in ("canary", "batch_size", "max_fail_percent", "forks", "canary_must_pass", "host_keys",
                "connect_timeout"):
        name = f"MSPCTL_PATCH_{key.upper()}"
        if not env.get(name):
            continue
        if key == "canary_must_pass":
            patch[key] = _env_bool(name, env[name])
        elif key == "host_keys":
            if env[name] not in HOST_KEY_MODES:
                raise ConfigError(f"environment {name}={env[name]!r}: expected one of {', '.join(HOST_KEY_MODES)}")
            patch[key] = env[name]
        else:
            try:
                patch[key] = int(env[name])
            except ValueError:
                raise ConfigError(f"environment {name}={env[name]!r}: not a whole number") from None
        sources.append(f"${name}")
    if env.get("MSPCTL_SSH_CONFIG"):
        patch["ssh_config"] = env["MSPCTL_SSH_CONFIG"]
        sources.append("$MSPCTL_SSH_CONFIG")
    for key in ("baselines", "playbooks", "ssh_config", "state", "known_hosts"):
        if key in patch:
            patch[key] = Path(os.path.expanduser(patch[key]))
    for key in ("ssh_config", "state", "known_hosts"):  # like the stores above: beside the file that names them
        if key in patch and not patch[key].is_absolute():
            patch[key] = repo_root / patch[key]
    for (section, key) in _RANGES:  # values from the environment and flags (files were checked above)
        value = (nb if section == "netbox" else patch if section == "patch" else data.get(section, {})).get(key)
        problem = _range_problem(section, key, value)
        if problem:
            raise ConfigError(f"{section}.{key} = {value!r} (from the environment or a flag) {problem}")
    problem = _url_problem(nb.get("url"))
    if problem:
        raise ConfigError(f"NetBox URL {nb['url']!r} {problem}", hint="e.g. NETBOX_API=https://netbox.example.net")
    return Settings(
        netbox=NetBoxSettings(**nb),
        cache=CacheSettings(**cache),
        repo=repo_root,
        clients_file=Path(inv.get("clients_file", "inventory/clients.yml")),
        platforms=data.get("platforms", {}),
        devices=DeviceSettings(**data.get("devices", {})),
        config=ConfigSettings(**cfg),
        patch=PatchSettings(**patch),
        push=PushSettings(**push),
        render=RenderSettings(**data.get("render", {})),
        records=RecordsSettings(**data.get("records", {})),
        notify=NotifySettings(urls=tuple(data.get("notify", {}).get("urls", ()))),
        executor=_executor(data.get("executor", {})),
        sla=_sla(data.get("sla", {})),
        sources=tuple(sources),
    )
