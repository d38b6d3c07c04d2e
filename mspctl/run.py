"""The one run value: what every run command returns to the CLI, and what every report renders.

A `Run` is a run's id, kind, times and provenance (who, command line, versions: see
`mspctl.provenance`) with one `TargetResult` per target: its status, whether it changed, its
diff, its error, its timings and the source and age of its evidence, and the `Check`s made on
it (a JUnit testcase each). Kind-specific detail stays in `data` (per target) and `document`
(the run's JSON as the command has always printed it), so the table, JSON, JUnit and Markdown
reports (`mspctl.reports`) and the exit code (`exit_code`) come from one value, whichever
service made it (drift, patch scan/apply/window/status, patch os).

Every result is also put in one of five `Outcome`s, which is all `exit_code` needs: a target
that was fine (`ok`), one that showed a finding (drift, not compliant), one that failed
(unreachable, an error, not patched), one that was `skipped` (nothing to check, not started)
and one that is `not_applicable` (no target of this kind of run, never contacted).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from mspctl.errors import ExitCode

if TYPE_CHECKING:
    from mspctl.errors import MspctlError

Outcome = Literal["ok", "finding", "failed", "skipped", "not_applicable"]
CheckStatus = Literal["passed", "failure", "error", "skipped"]
CHECKED: tuple[Outcome, ...] = ("ok", "finding", "failed")  # a target that was looked at


@dataclass(frozen=True)
class Check:
    """One thing checked on a target (a drift feature, a host's baseline): a JUnit testcase.

    `group` is what JUnit's classname adds after the client (drift: the device), None for one
    check per target; `message`/`detail`/`type` are the failure's, error's or skip's;
    `properties` are the testcase's; `data` holds what other reports show (a feature's missing
    and extra lines and its remediation)."""

    name: str
    status: CheckStatus = "passed"
    group: str | None = None
    message: str = ""
    detail: str | None = None
    type: str = ""
    properties: tuple[tuple[str, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class TargetResult:
    """A run's result for one target: `key` is its NetBox object (``device:12``), `name` the name
    mspctl prints for it (one `-l` takes back)."""

    key: str
    name: str
    client: str | None
    status: str
    outcome: Outcome
    changed: bool = False
    diff: str = ""
    error: str | None = None  # what failed; for a skipped or not-applicable target, why
    error_code: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration: float | None = None  # seconds
    evidence_source: str | None = None  # where the evidence came from: live, backup, records, scan
    evidence_at: datetime | None = None
    evidence_age: float | None = None  # seconds, at the end of the run
    checks: list[Check] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)  # kind-specific detail (the target's JSON)


def count(statuses: Iterable[str], keys: Sequence[str] = ()) -> dict[str, int]:
    """How many of each status: `keys` first, in that order, always present (0 when none); any
    other status after them, sorted. With no `keys`: every status found, sorted."""
    found: dict[str, int] = {}
    for s in statuses:
        found[s] = found.get(s, 0) + 1
    out = {k: found.pop(k, 0) for k in keys}
    return {**out, **dict(sorted(found.items()))}


@dataclass
class Run:
    """One run of any kind, with its provenance and one `TargetResult` per target.

    `summary_keys`: the statuses `summary` always names (in order); `summary_extra`: counts that
    are not statuses (drift: ``features_drifted``). `error`: a failure after the targets were
    done (a patch run's NetBox write-back), with `error_note` saying what to do; it decides the
    exit code first. `document`: the run as the command's JSON has always shown it."""

    id: str
    kind: str
    started_at: datetime
    finished_at: datetime
    results: list[TargetResult] = field(default_factory=list)
    who: dict[str, str] = field(default_factory=dict)
    command: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    interrupted: str = ""  # the signal that stopped the run, if one did
    params: dict[str, Any] = field(default_factory=dict)
    summary_keys: tuple[str, ...] = ()
    summary_extra: dict[str, int] = field(default_factory=dict)
    error: MspctlError | None = None
    error_note: str = ""
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def clients(self) -> list[str]:
        found = {r.client for r in self.results if r.client}
        found.update(str(c) for c in (self.params.get("client"),) if c)
        return sorted(found)

    @property
    def summary(self) -> dict[str, int]:
        return {**count((r.status for r in self.results), self.summary_keys), **self.summary_extra}

    def outcomes(self, *which: Outcome) -> list[TargetResult]:
        return [r for r in self.results if r.outcome in which]

    @property
    def failed(self) -> bool:
        return bool(self.outcomes("failed"))

    @property
    def findings(self) -> bool:
        """Some target is not known to be as it should be: a finding, or a target that failed
        (what could not be checked is not compliant either)."""
        return bool(self.outcomes("finding", "failed"))

    @property
    def nothing_checked(self) -> bool:
        """Targets were selected but every one was skipped or not applicable."""
        return bool(self.results) and not self.outcomes(*CHECKED)

    @property
    def not_started(self) -> int:
        """Targets an interruption kept from starting."""
        from mspctl.errors import RunInterrupted

        return sum(r.error_code == RunInterrupted.code for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """The run's JSON: the command's own document, with its provenance."""
        return {**self.document, "who": self.who, "command": self.command, "versions": self.versions}


def new_run(run_id: str, kind: str, started_at: datetime, finished_at: datetime, results: list[TargetResult],
            **kw: Any) -> Run:
    """A `Run` with this process's provenance (`mspctl.provenance.meta`; empty without a run context)."""
    from mspctl import provenance

    meta = provenance.meta()
    return Run(run_id, kind, started_at, finished_at, results, who=meta.get("who", {}),
               command=meta.get("command", ""), versions=meta.get("versions", {}), **kw)


# -- the exit code --------------------------------------------------------------------------------
@dataclass(frozen=True)
class FailOn:
    """Which results make the exit code non-zero: a finding (4), a failed target (3), nothing
    checked (7). An interruption (130) and a run-level error always do."""

    findings: bool = True
    failures: bool = True
    nothing_checked: bool = True


EVERYTHING = FailOn()
FAIL_ON = {"drift": EVERYTHING, "noncompliant": EVERYTHING, "failure": FailOn(findings=False),
           "never": FailOn(False, False, False)}


def fail_on(name: str) -> FailOn:
    """`--fail-on NAME` as a policy: drift / noncompliant (everything), failure, never."""
    return FAIL_ON[name]


def exit_code(run: Run, policy: FailOn = EVERYTHING) -> int:
    """The run's exit code under `policy`: its run-level error's, 130 interrupted, 7 nothing
    checked, 3 a failed target (which wins over findings), 4 a finding, else 0."""
    if run.error is not None:
        return int(run.error.exit_code)
    if run.interrupted:
        return ExitCode.INTERRUPTED
    if policy.nothing_checked and run.nothing_checked:
        return ExitCode.NOTHING_CHECKED
    if policy.failures and run.failed:
        return ExitCode.PARTIAL
    if policy.findings and run.findings:
        return ExitCode.FINDINGS
    return ExitCode.OK
