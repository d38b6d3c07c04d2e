"""Patch reports, rendered from the run value (`mspctl.run.Run`): JUnit XML, one testcase per
host (a failure when not compliant, an error when unreachable or failed, skipped when not
started), grouped in one suite per client (`mspctl.reports.junit`). Selected assets that are no
patch target (NOT_APPLICABLE) are in the run's JSON and table, not here: a JUnit suite counts
what was checked. Also takes a `PatchRun` and renders its `to_run()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mspctl.reports import junit as _junit
from mspctl.run import Run

if TYPE_CHECKING:
    from mspctl.patch.service import PatchRun


def junit(run: Run | PatchRun) -> str:
    return _junit.junit(run if isinstance(run, Run) else run.to_run())
