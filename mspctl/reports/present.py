"""Presenting a run: its table (one view per kind), JSON or YAML, and its exit.

`present(run, fmt)` prints a `mspctl.run.Run` the way its command always has: JSON and YAML are
the run's document with its provenance; a table has the kind's columns, a row per target, the
kind's lines before it (what a dry run would do) and its footer on stderr. `finish(run, policy)`
then prints why the run does not exit 0 (a run-level error, an interruption, nothing checked)
and exits with `mspctl.run.exit_code`'s code. The commands call these two and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import click

from mspctl.errors import ExitCode
from mspctl.run import EVERYTHING, FailOn, Run, TargetResult, exit_code

__all__ = ["View", "exit_code", "finish", "present", "view_for"]


@dataclass(frozen=True)
class View:
    """How a kind of run shows as a table: its columns (key, header), a target's row, the lines
    printed before the table, and the footer."""

    columns: Sequence[tuple[str, str]]
    row: Callable[[TargetResult], dict[str, Any]]
    footer: Callable[[Run], str]
    preamble: Callable[[Run], list[str]] = lambda _run: []


def _counts(run: Run) -> str:
    return ", ".join(f"{n} {s}" for s, n in run.summary.items())


# -- drift ----------------------------------------------------------------------------------------
def _drift_row(t: TargetResult) -> dict[str, Any]:
    features = [c for c in t.checks if c.data]
    drifted = [c.name for c in features if c.data.get("status") == "drift"]
    return {"device": t.name, "client": t.client, "status": t.status,
            "features": f"{len(features) - len(drifted)}/{len(features)} ok" if features else "-",
            "drift": ", ".join(drifted) or (t.error or ""),
            "evidence": f"{t.evidence_source} {t.evidence_age:.0f}s"
            if t.evidence_source and t.evidence_age is not None else (t.evidence_source or "-")}


def _drift_footer(run: Run) -> str:
    s = run.summary
    return (f"run {run.id}: {s['compliant']} compliant, {s['drift']} drifted, {s['failed']} failed, "
            f"{s['skipped']} skipped")


DRIFT = View([("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"), ("features", "FEATURES"),
              ("drift", "DRIFT / ERROR"), ("evidence", "EVIDENCE")], _drift_row, _drift_footer)


# -- patch scan / apply / window / status ---------------------------------------------------------
def _patch_detail(t: TargetResult) -> str:
    d = t.data
    c = d["compliance"]
    parts = [f"{n} {s.lower()}" for s, n in sorted(c["counts"].items()) if s != "INSTALLED"]
    if d["status"] and d["status"] != "compliant":
        parts.insert(0, d["status"])
    if d["installed"]:
        parts.append("installed " + ", ".join(d["installed"]))
    if d["rebooted"]:
        parts.append("rebooted")
    if d["error"]:
        parts.append(d["error"] if len(d["error"]) < 100 else d["error"][:97] + "...")
    elif c["state"] in ("NO_BASELINE", "STALE", "NOT_APPLICABLE") and c["reason"]:
        parts.append(c["reason"])
    return "; ".join(parts) or "-"


def _patch_row(t: TargetResult) -> dict[str, Any]:
    age = t.data["compliance"]["evidence_age_seconds"]
    return {"host": t.name, "client": t.client, "baseline": t.data["baseline"] or "-",
            "state": t.data["compliance"]["state"], "detail": _patch_detail(t),
            "evidence": f"{age:.0f}s" if age is not None else "-"}


def _patch_footer(run: Run) -> str:
    stopped = run.document.get("stopped")
    return f"run {run.id}: {_counts(run)}" + (f"; stopped: {stopped}" if stopped else "")


def _patch_plan(run: Run) -> list[str]:
    if run.kind == "patch-scan":
        return []
    return [f"--- {t.name}: would install {', '.join(t.data['compliance']['install']) or 'nothing'}"
            f"{'; then reboot' if t.data['compliance']['reboot'] else ''}"
            for t in run.results if t.status == "planned"]


PATCH = View([("host", "HOST"), ("client", "CLIENT"), ("baseline", "BASELINE"), ("state", "COMPLIANCE"),
              ("detail", "DETAIL"), ("evidence", "EVIDENCE")], _patch_row, _patch_footer, _patch_plan)

# -- patch os -------------------------------------------------------------------------------------
PATCH_OS = View([("device", "DEVICE"), ("client", "CLIENT"), ("platform", "PLATFORM"), ("device_type", "TYPE"),
                 ("version", "VERSION"), ("state", "COMPLIANCE"), ("detail", "DETAIL")],
                lambda t: {**t.data, "detail": t.data["reason"]}, lambda run: f"run {run.id}: {_counts(run)}")


# -- config push / rollback -----------------------------------------------------------------------
def _nonzero(run: Run) -> str:
    return ", ".join(f"{n} {s}" for s, n in run.summary.items() if n)


def _push_footer(run: Run) -> str:
    text = f"run {run.id}: {_nonzero(run)}"
    return text + (f"; interrupted by {run.interrupted}: no new device was started" if run.interrupted else "")


def _push_commands(run: Run) -> list[str]:
    """Each device's commands (planned, sent or refused), how it was rolled back, its warnings."""
    lines: list[str] = []
    for t in run.results:
        d = t.data
        if d["commands"]:
            verb = {"applied": "applied", "planned": "would send", "refused": "would send (refused)"}.get(
                t.status, f"planned {len(d['commands'])}, the device accepted {len(d['accepted'])}")
            lines.append(f"--- {t.name} ({t.client}): {verb} [{', '.join(d['features'])}]")
            lines += [f"  {c}" for c in d["commands"]]
        if d["rollback_commands"]:
            lines.append(f"    rolled back with: {'; '.join(c.strip() for c in d['rollback_commands'])}")
        lines += [f"    warning: {w}" for w in d["warnings"]]
    return lines


PUSH = View([("device", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"), ("features", "FEATURES"),
             ("commands", "COMMANDS"), ("error", "ERROR")],
            lambda t: {"device": t.name, "client": t.client, "status": t.status,
                       "features": ",".join(t.data["features"]) or "-", "commands": len(t.data["commands"]),
                       "error": t.error or ""}, _push_footer, _push_commands)


# -- config backup --------------------------------------------------------------------------------
def _backup_footer(run: Run) -> str:
    commit = run.params.get("commit")
    return f"run {run.id}: {_nonzero(run)}" + (f"; commit {commit[:10]}" if commit else "; no changes, no commit")


BACKUP = View([("name", "DEVICE"), ("client", "CLIENT"), ("status", "STATUS"), ("path", "FILE"), ("error", "ERROR")],
              lambda t: t.data, _backup_footer)

VIEWS = {"drift": DRIFT, "patch-scan": PATCH, "patch-apply": PATCH, "patch-window": PATCH, "patch-os": PATCH_OS,
         "push": PUSH, "rollback": PUSH, "backup": BACKUP}


def view_for(kind: str) -> View:
    return VIEWS[kind]


def present(run: Run, fmt: str, *, footer: str | None = None, err: bool = False) -> None:
    """Print `run` as `fmt` (table, json, yaml); `footer` replaces the kind's own; `err`: on
    stderr (a preview shown before a prompt, so stdout holds only the run's result)."""
    from mspctl.cli.output import echo_line, render

    view = view_for(run.kind)
    if fmt == "table":
        for line in view.preamble(run):
            echo_line(line, err=err)
    render(run.to_dict(), fmt, rows=[view.row(t) for t in run.results], columns=view.columns,
           footer=view.footer(run) if footer is None else footer, err=err)


def finish(run: Run, policy: FailOn = EVERYTHING, what: str = "checked") -> None:
    """Exit as `exit_code(run, policy)` says, saying why first: the run-level error (with what
    to do), the interruption (how many targets never started), or, when nothing was checked,
    each target skipped and why (`what`: the verb, "audited", "scanned"). Returns on 0."""
    from mspctl.cli.output import echo_line

    code = exit_code(run, policy)
    if code == ExitCode.OK:
        return
    if run.error is not None:
        echo_line(f"Error: {run.error}{run.error_note}", err=True)
    elif code == ExitCode.INTERRUPTED:
        click.echo(f"Interrupted by {run.interrupted}: {run.not_started} target(s) not started; the others "
                   f"finished. Run {run.id} is recorded as interrupted.", err=True)
    elif code == ExitCode.NOTHING_CHECKED:
        skipped = run.outcomes("skipped", "not_applicable")
        for t in skipped:
            echo_line(f"skipped: {t.name}: {t.error or 'skipped'}", err=True)
        click.echo(f"Nothing was {what}: all {len(skipped)} selected target(s) were skipped (exit 7).", err=True)
    raise SystemExit(code)
