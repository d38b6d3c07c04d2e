"""A real NetBox on loopback for the demo, the tests and the benchmarks.

Layout under the lab home (``$MSPCTL_LAB_HOME``, default ``~/.cache/mspctl-lab``)::

    nb-<version>/            NetBox's own venv (``pip install netbox==<version>``)
    nb-<version>/root/       NETBOX_ROOT: conf/configuration.py, media, logs
    state.json               lab secrets (SECRET_KEY, token peppers, API token) and the loaded DB key
    dumps/                   cached pg_dump files, keyed so a stale one is never restored

Migrating a new NetBox database takes minutes; restoring a dump takes seconds. So the
migrated schema is dumped once per NetBox version, and each seeded data set once per
(version, seed script contents, lab secrets).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from lab import services
from lab.services import log, run

NETBOX_VERSION = os.environ.get("MSPCTL_LAB_NETBOX_VERSION", "4.7.3")
LAB_HOME = Path(os.environ.get("MSPCTL_LAB_HOME", Path.home() / ".cache" / "mspctl-lab")).expanduser().resolve()
# Each data set has its own database and server, so benchmarks and tests can run side by side.
BASE_PORT = int(os.environ.get("MSPCTL_LAB_NETBOX_PORT", "18080"))
_DEFAULT_HOME = Path.home() / ".cache" / "mspctl-lab"
# Two lab homes on one machine (a CI clone beside a developer's lab) must not share databases.
DB_USER = "mspctl_lab" if LAB_HOME == _DEFAULT_HOME else \
    f"mspctl_lab_{hashlib.sha256(str(LAB_HOME).encode()).hexdigest()[:6]}"
HERE = Path(__file__).resolve().parent
SEEDS = {"demo": [HERE / "seed_common.py", HERE / "seed_demo.py"],
         "bench": [HERE / "seed_common.py", HERE / "seed_demo.py", HERE / "seed_bench.py"],
         "brownfield": [HERE / "seed_common.py", HERE / "seed_demo.py", HERE / "seed_brownfield.py"]}
PORTS = {"demo": BASE_PORT, "bench": BASE_PORT + 1, "brownfield": BASE_PORT + 2}
# NetBox's default is 1000. The brownfield NetBox is small on purpose, so paging, and mspctl's
# clamping of a page size above the server's maximum, are exercised on every read of it.
MAX_PAGE_SIZE = {"brownfield": 10}

VENV = LAB_HOME / f"nb-{NETBOX_VERSION}"
STATE_FILE = LAB_HOME / "state.json"
DUMPS = LAB_HOME / "dumps"


def db_name(dataset: str) -> str:
    return f"{DB_USER}_{dataset}"


def url(dataset: str) -> str:
    return f"http://127.0.0.1:{PORTS[dataset]}"


def root(dataset: str) -> Path:
    """NETBOX_ROOT of the data set's instance: conf/configuration.py, logs, pid file."""
    return VENV / f"root-{dataset}"


def pidfile(dataset: str) -> Path:
    return root(dataset) / "gunicorn.pid"


def _rand(n: int) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def load_state() -> dict[str, str]:
    if STATE_FILE.exists():
        saved: dict[str, str] = json.loads(STATE_FILE.read_text())
        return saved
    state = {
        "secret_key": _rand(60),
        "pepper": _rand(64),
        "db_password": _rand(24),
        "token_key": _rand(12),
        "token_secret": _rand(40),
        "admin_password": _rand(16),
    }
    save_state(state)
    return state


def save_state(state: dict[str, str]) -> None:
    LAB_HOME.mkdir(parents=True, exist_ok=True)
    tmp = STATE_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.chmod(tmp, 0o600)
    tmp.replace(STATE_FILE)


def api_token(state: dict[str, str]) -> str:
    return f"nbt_{state['token_key']}.{state['token_secret']}"


def find_python312() -> str:
    for cand in (os.environ.get("MSPCTL_PYTHON", ""), "python3.12", "python3.13"):
        found = shutil.which(cand) if cand else None
        if found:
            probe = subprocess.run([found, "-c", "import sys;print(sys.version_info>=(3,12))"],
                                   capture_output=True, text=True)
            if probe.stdout.strip() == "True":
                return found
    pyenv = sorted(Path.home().glob(".pyenv/versions/3.1[2-9]*/bin/python3"))
    if pyenv:
        return str(pyenv[-1])
    raise SystemExit("[lab] NetBox needs Python >= 3.12: install it (pyenv install 3.12) or set MSPCTL_PYTHON")


def ensure_venv() -> None:
    marker = VENV / ".installed"
    if marker.exists():
        return
    log(f"installing netbox=={NETBOX_VERSION} into {VENV} (about 90 s)")
    if not (VENV / "bin" / "python").exists():
        run([find_python312(), "-m", "venv", str(VENV)])
    run([str(VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
         f"netbox=={NETBOX_VERSION}"])
    marker.write_text(NETBOX_VERSION)


def write_configuration(state: dict[str, str], dataset: str) -> bool:
    """Write the data set's configuration.py; True when it changed (a running NetBox must restart)."""
    redis_db = 10 + 2 * sorted(SEEDS).index(dataset)
    conf = root(dataset) / "conf"
    conf.mkdir(parents=True, exist_ok=True)
    (conf / "__init__.py").touch()
    text = f'''# Written by mspctl's lab (lab/netbox.py); rewritten on every `lab up`.
ALLOWED_HOSTS = ["*"]
DATABASES = {{"default": {{
    "ENGINE": "django.db.backends.postgresql", "NAME": "{db_name(dataset)}", "USER": "{DB_USER}",
    "PASSWORD": "{state['db_password']}", "HOST": "127.0.0.1", "PORT": "5432", "CONN_MAX_AGE": 300,
    # A restored database otherwise hands gunicorn workers dead connections (HTTP 500).
    "CONN_HEALTH_CHECKS": True,
}}}}
REDIS = {{
    "tasks": {{"HOST": "127.0.0.1", "PORT": 6379, "DATABASE": {redis_db}, "SSL": False}},
    "caching": {{"HOST": "127.0.0.1", "PORT": 6379, "DATABASE": {redis_db + 1}, "SSL": False}},
}}
SECRET_KEY = "{state['secret_key']}"
API_TOKEN_PEPPERS = {{1: "{state['pepper']}"}}
# No internet here: no census, no release check.
CENSUS_REPORTING_ENABLED = False
RELEASE_CHECK_URL = None
MAX_PAGE_SIZE = {MAX_PAGE_SIZE.get(dataset, 1000)}
PAGINATE_COUNT = 100
TIME_ZONE = "UTC"
LOGIN_REQUIRED = True
'''
    path = conf / "configuration.py"
    if path.exists() and path.read_text() == text:
        return False
    path.write_text(text)
    os.chmod(path, 0o600)
    return True


def netbox_env(dataset: str) -> dict[str, str]:
    env = dict(os.environ, NETBOX_ROOT=str(root(dataset)), DJANGO_SETTINGS_MODULE="netbox.settings")
    env["PATH"] = f"{VENV / 'bin'}:{env.get('PATH', '')}"
    return env


def netbox(dataset: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run([str(VENV / "bin" / "netbox"), *args], env=netbox_env(dataset))


def seed_key(dataset: str, state: dict[str, str]) -> str:
    h = hashlib.sha256(NETBOX_VERSION.encode())
    h.update(dataset.encode())
    h.update(state["pepper"].encode())
    h.update(api_token(state).encode())
    for f in SEEDS[dataset]:
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def _pg_env(state: dict[str, str]) -> dict[str, str]:
    return dict(os.environ, PGPASSWORD=state["db_password"], PGHOST="127.0.0.1", PGUSER=DB_USER)


def db_exists(dataset: str) -> bool:
    return services.psql(f"SELECT 1 FROM pg_database WHERE datname='{db_name(dataset)}'") == "1"


def recreate_db(state: dict[str, str], dataset: str) -> None:
    services.psql(
        f"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='{DB_USER}') THEN "
        f"CREATE ROLE {DB_USER} LOGIN; END IF; END$$;")
    services.psql(f"ALTER ROLE {DB_USER} WITH LOGIN PASSWORD '{state['db_password']}'")
    services.psql(f"DROP DATABASE IF EXISTS {db_name(dataset)} WITH (FORCE)")
    services.psql(f"CREATE DATABASE {db_name(dataset)} OWNER {DB_USER}")


def dump_db(state: dict[str, str], dataset: str, dest: Path) -> None:
    DUMPS.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".partial")
    run(["pg_dump", "-Fc", "-Z", "1", "-d", db_name(dataset), "-f", str(tmp)], env=_pg_env(state))
    tmp.replace(dest)  # a dump is only ever visible whole


def restore_db(state: dict[str, str], dataset: str, src: Path) -> None:
    recreate_db(state, dataset)
    run(["pg_restore", "--no-owner", "-j", "2", "-d", db_name(dataset), str(src)], env=_pg_env(state))


def ensure_database(state: dict[str, str], dataset: str, fresh: bool = False) -> bool:
    """Make the data set's DB hold its seeded data (`fresh`: reload it even if it is there).
    Returns True when the DB was replaced."""
    key = seed_key(dataset, state)
    if not fresh and state.get(f"db_key_{dataset}") == key and db_exists(dataset):
        log(f"NetBox DB: {dataset} data set already loaded ({key})")
        return False
    stop_gunicorn(dataset)
    seeded = DUMPS / f"netbox-{NETBOX_VERSION}-{dataset}-{key}.dump"
    if seeded.exists():
        log(f"NetBox DB: restoring cached {seeded.name}")
        restore_db(state, dataset, seeded)
    else:
        migrated = DUMPS / f"netbox-{NETBOX_VERSION}-migrated.dump"
        if migrated.exists():
            log(f"NetBox DB: restoring cached {migrated.name}")
            restore_db(state, dataset, migrated)
        else:
            log("NetBox DB: migrating a new database (5-9 minutes, once per NetBox version)")
            recreate_db(state, dataset)
            netbox(dataset, "migrate", "--no-input")
            dump_db(state, dataset, migrated)
        env = netbox_env(dataset)
        env["MSPCTL_LAB_TOKEN_KEY"] = state["token_key"]
        env["MSPCTL_LAB_TOKEN_SECRET"] = state["token_secret"]
        env["MSPCTL_LAB_ADMIN_PASSWORD"] = state["admin_password"]
        for f in SEEDS[dataset]:
            log(f"NetBox DB: seeding {f.name}")
            run([str(VENV / "bin" / "python"), str(f)], env=env)
        dump_db(state, dataset, seeded)
        for old in DUMPS.glob(f"netbox-*-{dataset}-*.dump"):
            if old != seeded:
                old.unlink()
    state[f"db_key_{dataset}"] = key
    save_state(state)
    return True


def gunicorn_pid(dataset: str) -> int | None:
    try:
        pid = int(pidfile(dataset).read_text().strip())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def stop_gunicorn(dataset: str) -> None:
    pid = gunicorn_pid(dataset)
    if pid is None:
        return
    log(f"stopping NetBox {dataset} (gunicorn pid {pid})")
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if gunicorn_pid(dataset) is None and not services.port_open(PORTS[dataset]):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


def start_gunicorn(dataset: str, workers: int) -> None:
    # PostgreSQL's JIT compiles NetBox's config-context query once its cost estimate passes
    # jit_above_cost: from 3 objects on, a REST list with config_context took 2.3 s instead of
    # 0.05 s. Off for the lab's role; set before the workers open their connections.
    services.psql(f"DO $$BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname='{DB_USER}') THEN "
                  f"ALTER ROLE {DB_USER} SET jit = off; END IF; END$$;")
    port = PORTS[dataset]
    if gunicorn_pid(dataset) is not None and services.port_open(port):
        log(f"NetBox: already serving {url(dataset)}")
        return
    if services.port_open(port):
        raise SystemExit(f"[lab] port {port} is taken by another program; set MSPCTL_LAB_NETBOX_PORT")
    log(f"NetBox: starting gunicorn on {url(dataset)} with {workers} workers")
    run([str(VENV / "bin" / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--timeout", "600", "--no-control-socket", "--daemon", "--pid", str(pidfile(dataset)),
         "--error-logfile", str(root(dataset) / "gunicorn.log"), "--config", str(HERE / "gunicorn_conf.py"),
         "netbox.wsgi"], env=netbox_env(dataset))


def wait_ready(state: dict[str, str], dataset: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        req = urllib.request.Request(f"{url(dataset)}/api/status/",
                                     headers={"Authorization": f"Bearer {api_token(state)}",
                                              "Accept": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                body = json.loads(resp.read())
                log(f"NetBox {body.get('netbox-version')} ({dataset}) ready at {url(dataset)}")
                return
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.5)
    raise SystemExit(f"[lab] NetBox at {url(dataset)} not ready after {timeout:.0f}s: {last}; "
                     f"see {root(dataset) / 'gunicorn.log'}")


def env_file(dataset: str) -> Path:
    return LAB_HOME / f"netbox-{dataset}.env"


def write_env_file(state: dict[str, str], dataset: str) -> Path:
    """Shell-sourceable settings for the demo and the tests (the lab's own, throwaway token)."""
    path = env_file(dataset)
    path.write_text(f"export NETBOX_API={url(dataset)}\nexport NETBOX_TOKEN={api_token(state)}\n")
    os.chmod(path, 0o600)
    return path


def up(dataset: str = "demo", workers: int = 3, fresh: bool = False) -> dict[str, str]:
    """Bring the data set's NetBox up (idempotent) and return its url, token and env file."""
    services.ensure_postgres()
    services.ensure_redis()
    ensure_venv()
    state = load_state()
    if write_configuration(state, dataset):
        stop_gunicorn(dataset)  # a running NetBox still has the old settings
    ensure_database(state, dataset, fresh)
    start_gunicorn(dataset, workers)
    wait_ready(state, dataset)
    path = write_env_file(state, dataset)
    log(f"settings for clients: source {path}")
    return {"url": url(dataset), "token": api_token(state), "env_file": str(path),
            "no_permission_token": f"nbt_nopermission.{state['token_secret'][::-1]}"}


def down(dataset: str | None = None) -> None:
    for ds in [dataset] if dataset else sorted(SEEDS):
        stop_gunicorn(ds)
    log("NetBox stopped (PostgreSQL and Redis are left running for reuse)")


def status() -> int:
    out = {ds: {"url": url(ds), "gunicorn_pid": gunicorn_pid(ds), "serving": services.port_open(PORTS[ds])}
           for ds in sorted(SEEDS)}
    print(json.dumps({"lab_home": str(LAB_HOME), "netbox_version": NETBOX_VERSION, "instances": out}, indent=2))
    return 0 if any(v["gunicorn_pid"] for v in out.values()) else 1


if __name__ == "__main__":  # pragma: no cover - use `python -m lab`
    sys.exit("use: python -m lab up|down|status")
