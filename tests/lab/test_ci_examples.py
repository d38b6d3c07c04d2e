"""The CI examples (examples/ci) run against the lab, so that they cannot rot.

Each job's shell lines (GitLab: `before_script` + `script`; GitHub: the `run` steps, in order,
with `if: always()` steps still running after a failure) run in bash in a copy of the MSP
repository's files, with the lab's settings substituted for the CI variables and secrets:

- GitLab's file variables (the credentials file, the SSH config and key) become files of mode
  0644, as GitLab may write them, so the examples' `chmod 600` is exercised;
- GitHub's `${{ secrets.X }}` / `${{ vars.X }}` / `${{ matrix.X }}` / `${{ inputs.X }}` in `env:`
  blocks get the lab's values (a script itself may hold no `${{ }}`);
- the one narrow substitution: the install lines, marked `# ci-example: install`, are replaced by
  the repository's own venv on PATH;
- the SSH config is the lab's, with `IdentityFile ${PATCH_SSH_KEY_FILE}` as the examples document;
- the lab's devices answer on port 2222 (`MSPCTL_DEVICE_PORT`), a lab-only setting a real MSP's
  devices do not need, so it is in the runner's environment rather than the examples.

Each job's exit code must be what the example's own handling says, and the JUnit files it names
must exist and parse. Every job runs in a fresh checkout with a fresh home, as on a CI runner;
the jobs of one CI system share a run history through MSPCTL_RECORDS_URL, as the examples
document (an SQLite URL here for the MSP's PostgreSQL), so the monthly reports see the records of
the drift and patch jobs before them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, LabNetBox, LabNetwork, LabServers

EXAMPLES = REPO / "examples" / "ci"
INSTALL_MARKER = "# ci-example: install"
VENV_BIN = Path(sys.executable).parent
# what a CI checkout of the MSP repository holds that mspctl reads
CHECKOUT_FILES = ("mspctl.toml", "ansible.cfg", "inventory", "baselines", "templates", "playbooks", "plugins")
# acme's window is Saturday 22:00 Europe/Berlin for 4 h (inventory/clients.yml)
INSIDE = "2026-11-28T22:30:00+01:00"
OUTSIDE = "2026-11-26T12:00:00+00:00"
CI_SYSTEMS = ("gitlab", "github")


@dataclass
class Step:
    name: str
    script: str
    env: dict[str, str] = field(default_factory=dict)
    always: bool = False


@dataclass
class CiJob:
    """One job of an example, ready to run: its steps, its own variables and the JUnit globs it uploads."""

    name: str
    steps: list[Step]
    env: dict[str, str]
    junit: list[str]
    allowed_failures: set[int] = field(default_factory=set)


@dataclass
class JobRun:
    exit_code: int
    output: str
    workdir: Path
    env: dict[str, str]

    def junit_files(self, globs: list[str]) -> list[Path]:
        return sorted({p for g in globs for p in self.workdir.glob(_expand(g, self.env))})


@dataclass(frozen=True)
class LabCi:
    """The lab's settings as one CI project's variables and secrets."""

    netbox: LabNetBox
    network: LabNetwork
    servers: LabServers | None
    records_url: str

    def ssh_config_text(self) -> str:
        assert self.servers is not None
        text = Path(self.servers.ssh_config).read_text()
        documented, n = re.subn(r"(?m)^(\s*)IdentityFile\s+\S+$", r"\1IdentityFile ${PATCH_SSH_KEY_FILE}", text)
        assert n == 1, "the lab's SSH config names one key"
        return documented

    def ssh_key_path(self) -> Path:
        assert self.servers is not None
        match = re.search(r"(?m)^\s*IdentityFile\s+(\S+)$", Path(self.servers.ssh_config).read_text())
        assert match
        return Path(match.group(1))

    def gitlab_variables(self, files: Path) -> dict[str, str]:
        """CI/CD variables; the File ones as GitLab writes them: a path to a file with the value."""
        files.mkdir(parents=True, exist_ok=True)

        def file_variable(name: str, text: str) -> str:
            path = files / name
            path.write_text(text)
            path.chmod(0o644)
            return str(path)

        variables = {"NETBOX_API": self.netbox.url, "NETBOX_TOKEN": self.netbox.token,
                     "MSPCTL_RECORDS_URL": self.records_url,
                     "MSPCTL_CREDENTIALS_FILE": file_variable("MSPCTL_CREDENTIALS_FILE",
                                                              Path(self.network.credentials_file).read_text())}
        if self.servers is not None:
            variables["MSPCTL_SSH_CONFIG"] = file_variable("MSPCTL_SSH_CONFIG", self.ssh_config_text())
            variables["PATCH_SSH_KEY_FILE"] = file_variable("PATCH_SSH_KEY_FILE", self.ssh_key_path().read_text())
        return variables

    def github_contexts(self) -> dict[str, dict[str, str]]:
        secrets = {"NETBOX_TOKEN": self.netbox.token, "MSPCTL_RECORDS_URL": self.records_url,
                   "MSPCTL_CREDENTIALS": Path(self.network.credentials_file).read_text()}
        if self.servers is not None:
            secrets["PATCH_SSH_CONFIG"] = self.ssh_config_text()
            secrets["PATCH_SSH_KEY"] = self.ssh_key_path().read_text()
        return {"secrets": secrets, "vars": {"NETBOX_API": self.netbox.url}}


def _expand(value: str, env: dict[str, str]) -> str:
    """$VAR and ${VAR} from `env` (unknown ones empty), as GitLab expands its variables."""
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _load(name: str) -> dict:
    data = yaml.safe_load((EXAMPLES / name).read_text())
    assert isinstance(data, dict), name
    return data


def _install_replaced(script: str, ci: str) -> str:
    """The marked install lines become the repository's venv on PATH; nothing else changes.
    (A GitHub step's `export` ends with the step: later steps get PATH from $GITHUB_PATH.)"""
    if not script.lstrip().startswith(INSTALL_MARKER):
        return script
    if ci == "github":
        return f'echo "{VENV_BIN}" >> "$GITHUB_PATH"  # replaces the install lines ({INSTALL_MARKER})\n'
    return f'export PATH="{VENV_BIN}:$PATH"  # replaces the install lines ({INSTALL_MARKER})\n'


# GitLab


def gitlab_job(name: str, matrix: dict[str, str] | None = None) -> CiJob:
    data = _load("gitlab-ci.yml")
    job = dict(data[name])
    parents = job.get("extends") or []
    for parent in [parents] if isinstance(parents, str) else parents:
        job = {**data[parent], **job}
    lines = [*job.get("before_script", []), *job["script"]]
    assert any(str(line).lstrip().startswith(INSTALL_MARKER) for line in lines), "the job installs mspctl"
    script = "\n".join(_install_replaced(str(line), "gitlab") for line in lines)
    env = {k: str(v) for k, v in (data.get("variables") or {}).items()}
    env.update({k: str(v) for k, v in (job.get("variables") or {}).items()})
    if matrix:
        rows = job["parallel"]["matrix"]
        for key, value in matrix.items():
            assert any(value in row.get(key, []) for row in rows), f"{name}: {key}={value} not in the matrix"
        env.update(matrix)
    junit = (job.get("artifacts") or {}).get("reports", {}).get("junit", [])
    allowed = set((job.get("allow_failure") or {}).get("exit_codes", [])) if isinstance(
        job.get("allow_failure"), dict) else set()
    return CiJob(name, [Step(name, script)], env, [junit] if isinstance(junit, str) else list(junit), allowed)


def run_gitlab(job: CiJob, lab: LabCi, workdir: Path, schedule: str, extra: dict[str, str]) -> JobRun:
    env = _runner_env(lab, workdir)
    env.update(CI="true", GITLAB_CI="true", CI_PROJECT_DIR=str(workdir), CI_PIPELINE_SOURCE="schedule",
               MSPCTL_SCHEDULE=schedule, CI_JOB_NAME=job.name)
    env.update(lab.gitlab_variables(workdir.parent / f"{workdir.name}-file-variables"))
    env.update(extra)
    for key, value in job.env.items():  # GitLab expands variables that use other variables
        env[key] = _expand(value, env)
    rc, out = _bash(job.steps[0].script, env, workdir)
    return JobRun(rc, out, workdir, env)


# GitHub

_EXPR = re.compile(r"\$\{\{\s*(secrets|vars|matrix|inputs)\.(\w+)\s*\}\}")


def _github_value(value: object, contexts: dict[str, dict[str, str]]) -> str:
    text = str(value)
    resolved = _EXPR.sub(lambda m: contexts.get(m.group(1), {}).get(m.group(2), ""), text)
    assert "${{" not in resolved, f"an expression the lab test cannot stand in for: {text}"
    return resolved


def github_job(name: str, contexts: dict[str, dict[str, str]]) -> CiJob:
    data = _load("github-actions.yml")
    job = data["jobs"][name]
    if "matrix" in contexts:
        matrix = job["strategy"]["matrix"]
        for key, value in contexts["matrix"].items():
            assert value in matrix[key], f"{name}: {key}={value} not in the matrix"
    env = {k: _github_value(v, contexts) for k, v in (data.get("env") or {}).items()}
    env.update({k: _github_value(v, contexts) for k, v in (job.get("env") or {}).items()})
    steps, junit = [], []
    for i, step in enumerate(job["steps"]):
        if "run" in step:
            assert "${{" not in step["run"], f"{name} step {i}: secrets and contexts reach scripts through env"
            steps.append(Step(step.get("name", f"step {i}"), _install_replaced(step["run"], "github"),
                              {k: _github_value(v, contexts) for k, v in (step.get("env") or {}).items()},
                              "always()" in str(step.get("if", ""))))
        elif str(step.get("uses", "")).startswith("actions/upload-artifact"):
            assert "always()" in str(step.get("if", "")), f"{name}: artifacts are uploaded when the job fails too"
            junit += [f"{p.rstrip('/')}/*.xml" for p in str(step["with"]["path"]).split()]
    assert any(INSTALL_MARKER in s.script and "GITHUB_PATH" in s.script for s in steps), \
        f"{name}: the job installs mspctl"
    return CiJob(name, steps, env, junit)


def run_github(job: CiJob, lab: LabCi, workdir: Path, extra: dict[str, str]) -> JobRun:
    temp = workdir.parent / f"{workdir.name}-runner-temp"
    temp.mkdir(parents=True, exist_ok=True)
    github_env, github_path = temp / "github_env", temp / "github_path"
    github_env.write_text("")
    github_path.write_text("")
    env = _runner_env(lab, workdir)
    env.update(CI="true", GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workdir), RUNNER_TEMP=str(temp),
               GITHUB_ENV=str(github_env), GITHUB_PATH=str(github_path),
               GITHUB_STEP_SUMMARY=str(temp / "step_summary.md"), GITHUB_OUTPUT=str(temp / "github_output"))
    env.update(job.env)
    env.update(extra)
    rc, output = 0, []
    for step in job.steps:
        if rc != 0 and not step.always:
            continue
        step_rc, out = _bash(step.script, {**env, **step.env}, workdir)
        output.append(f"--- {step.name} (exit {step_rc})\n{out}")
        env.update(_read_github_env(github_env))
        added = [line for line in reversed(github_path.read_text().splitlines()) if line]
        env["PATH"] = os.pathsep.join([*added, os.environ["PATH"]])
        rc = rc or step_rc
    return JobRun(rc, "\n".join(output), workdir, env)


def _read_github_env(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
    return values


# running


def _runner_env(lab: LabCi, workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MSPCTL_", "NETBOX_", "CI_", "GITHUB_", "GITLAB_", "RUNNER_", "XDG_"))}
    home = workdir.parent / f"{workdir.name}-home"
    env.update(PATH=os.environ["PATH"], XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"),
               XDG_STATE_HOME=str(home / "state"), XDG_DATA_HOME=str(home / "data"),
               MSPCTL_DEVICE_PORT=lab.network.device_port)  # the lab's devices only (see the module's doc)
    return env


def _bash(script: str, env: dict[str, str], cwd: Path) -> tuple[int, str]:
    # GitLab's and GitHub's bash both stop at the first failing command, pipes included
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1200)
    return proc.returncode, proc.stdout


def _parsed_junit(run: JobRun, job: CiJob) -> list[Path]:
    files = run.junit_files(job.junit)
    assert files, f"{job.name}: no JUnit file matches {job.junit}\n{run.output[-3000:]}"
    for path in files:
        root = ET.parse(path).getroot()
        assert root.tag in ("testsuites", "testsuite"), path
        assert list(root.iter("testcase")), path
    return files


def checkout(where: Path) -> Path:
    """A fresh checkout of the MSP repository's files, as a CI runner starts each job with."""
    root = where / "checkout"
    root.mkdir(parents=True)
    for name in CHECKOUT_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, root / name)
    return root


@pytest.fixture(scope="module")
def histories(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One shared run history (MSPCTL_RECORDS_URL) per CI system, for all of its jobs."""
    root = tmp_path_factory.mktemp("ci-history")
    return {ci: f"sqlite:///{root / f'{ci}.sqlite'}" for ci in CI_SYSTEMS}


def test_the_examples_parse_and_name_their_jobs() -> None:
    gitlab = _load("gitlab-ci.yml")
    assert {"drift", "patch-window", "monthly-reports"} <= set(gitlab)
    github = _load("github-actions.yml")
    assert set(github["jobs"]) == {"drift", "patch-window", "monthly-reports"}
    triggers = github.get("on") or github[True]  # YAML 1.1 reads a bare `on` as true
    assert "schedule" in triggers and "workflow_dispatch" in triggers
    clients = set(yaml.safe_load((REPO / "inventory" / "clients.yml").read_text())["clients"])
    assert set(github["jobs"]["patch-window"]["strategy"]["matrix"]["client"]) <= clients
    assert set(gitlab["patch-window"]["parallel"]["matrix"][0]["CLIENT"]) <= clients
    for job, schedule in (("drift", "drift"), ("patch-window", "patch-window"), ("monthly-reports", "reports")):
        assert f'$MSPCTL_SCHEDULE == "{schedule}"' in gitlab[job]["rules"][0]["if"]


@pytest.mark.parametrize("ci", CI_SYSTEMS)
def test_nightly_drift_fails_on_the_seeded_drift_and_keeps_its_reports(
        ci: str, lab_netbox: LabNetBox, lab_network: LabNetwork, histories: dict[str, str], tmp_path: Path) -> None:
    lab = LabCi(lab_netbox, lab_network, None, histories[ci])
    workdir = checkout(tmp_path)
    if ci == "gitlab":
        job = gitlab_job("drift")
        run = run_gitlab(job, lab, workdir, "drift", {})
    else:
        job = github_job("drift", lab.github_contexts())
        run = run_github(job, lab, workdir, {})
        summary = Path(run.env["GITHUB_STEP_SUMMARY"]).read_text()
        assert "acme-core-sw1" in summary, "the drift report is in the job summary"
    assert run.exit_code == 4, run.output[-3000:]  # the lab seeds drift: the job fails visibly
    assert "DRIFT FOUND" in run.output or "drift found" in run.output
    [junit] = _parsed_junit(run, job)
    assert junit == workdir / "reports" / "drift.xml"
    assert "<failure" in junit.read_text()
    assert (workdir / "reports" / "drift.md").is_file()


@pytest.fixture
def servers(lab_servers: LabServers) -> LabServers:
    lab_servers.reset()
    return lab_servers


@pytest.mark.parametrize("ci", CI_SYSTEMS)
def test_weekly_patch_window_patches_acme_inside_its_window_and_passes_refused_outside(
        ci: str, lab_netbox: LabNetBox, lab_network: LabNetwork, servers: LabServers,
        histories: dict[str, str], tmp_path: Path) -> None:
    lab = LabCi(lab_netbox, lab_network, servers, histories[ci])

    def window(now: str) -> tuple[CiJob, JobRun]:
        # MSPCTL_NOW is the examples' documented rehearsal clock (a manual run's input); never --force
        workdir = checkout(tmp_path / now.replace(":", ""))
        if ci == "gitlab":
            job = gitlab_job("patch-window", {"CLIENT": "acme"})
            return job, run_gitlab(job, lab, workdir, "patch-window", {"MSPCTL_NOW": now})
        contexts = {**lab.github_contexts(), "matrix": {"client": "acme"}, "inputs": {"rehearse_at": now}}
        job = github_job("patch-window", contexts)
        return job, run_github(job, lab, workdir, {})

    job, outside = window(OUTSIDE)
    assert outside.exit_code == 0, outside.output[-3000:]  # 6, refused, is handled: nothing changed
    assert "refused, nothing changed" in outside.output and "MSP-WIN-001" in outside.output
    assert not (outside.workdir / "reports" / "patch-window-acme.json").exists()

    job, inside = window(INSIDE)
    assert inside.exit_code == 0, inside.output[-3000:]
    assert "acme: every host is compliant" in inside.output
    [junit] = _parsed_junit(inside, job)
    assert junit == inside.workdir / "reports" / "patch-window-acme.xml"
    assert len(list(ET.parse(junit).getroot().iter("testcase"))) == 5  # acme's five servers
    assert (inside.workdir / "reports" / "patch-window-acme.json").is_file()
    # the key really came through the documented `IdentityFile ${PATCH_SSH_KEY_FILE}`
    key = Path(inside.env["PATCH_SSH_KEY_FILE"])
    assert key.stat().st_mode & 0o077 == 0
    assert servers.ssh("h2", "dpkg-query -W -f '${Version}' mspdemo-web").strip() == "2.4.57-1+deb12u1"


def _report_command_exists() -> bool:
    proc = subprocess.run([str(VENV_BIN / "mspctl"), "report", "--help"], capture_output=True, text=True)
    return proc.returncode == 0


@pytest.mark.parametrize("ci", CI_SYSTEMS)
def test_monthly_reports_are_written_for_every_client(
        ci: str, lab_netbox: LabNetBox, lab_network: LabNetwork, histories: dict[str, str], tmp_path: Path) -> None:
    if not _report_command_exists():
        pytest.skip("`mspctl report` does not exist yet (the lead is adding it); only this job is skipped")
    lab = LabCi(lab_netbox, lab_network, None, histories[ci])
    workdir = checkout(tmp_path)
    if ci == "gitlab":
        job = gitlab_job("monthly-reports")
        run = run_gitlab(job, lab, workdir, "reports", {})
        assert run.exit_code == 0 or run.exit_code in job.allowed_failures, run.output[-3000:]
    else:
        job = github_job("monthly-reports", lab.github_contexts())
        run = run_github(job, lab, workdir, {})
        assert run.exit_code == 0, run.output[-3000:]
    index = workdir / "reports" / "monthly" / "index.html"
    assert index.is_file(), run.output[-3000:]
    assert "acme" in index.read_text()
    [acme] = (workdir / "reports" / "monthly").glob("acme-*.html")
    if Path(histories[ci].removeprefix("sqlite:///")).exists():  # the jobs before it shared their history
        assert "drift-" in acme.read_text() and "patch-window-" in acme.read_text()
