"""`mspctl metrics` after real runs against the lab: acme's drift audits and backup, then the
textfile and stdout, parsed with prometheus_client, against the runs' own JSON output."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from lab.devices.control import ControlClient
from mspctl.errors import ExitCode

Figures = dict[str, dict[tuple[tuple[str, str], ...], float]]


def _parse(text: str) -> Figures:
    out: Figures = {}
    for fam in text_string_to_metric_families(text):
        assert fam.type == "gauge", fam.name
        for s in fam.samples:
            out.setdefault(fam.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def _finished(run: dict) -> float:
    return datetime.fromisoformat(run["finished_at"]).timestamp()


def test_metrics_match_acmes_drift_and_backup_runs(net, lab_network, tmp_path: Path):
    first = net("drift", "-c", "acme", "-o", "json")
    assert first.exit_code == ExitCode.FINDINGS, first.output  # the seeded drift, no failure
    backup = net("config", "backup", "-c", "acme", "-o", "json")
    assert backup.exit_code == 0, backup.output
    # The newest audit fails one device: the figures must be this run's, not the first one's.
    ControlClient(lab_network.control).set_knobs("acme-dist-sw1", bad_credentials=True)
    second = net("drift", "-c", "acme", "-o", "json")
    assert second.exit_code == ExitCode.PARTIAL, second.output
    drift_run = json.loads(second.stdout)
    by_state = Counter(d["status"] for d in drift_run["devices"])
    assert by_state["failed"] == 1 and by_state["drift"] == 2  # what the lab seeds, so the check below means something

    textfile = tmp_path / "textfile"
    textfile.mkdir()
    res = net("--offline", "metrics", "--textfile", str(textfile), "-c", "acme")
    assert res.exit_code == 0, res.output
    written = (textfile / "mspctl.prom").read_text()
    assert written == res.stdout
    assert [p.name for p in textfile.iterdir()] == ["mspctl.prom"]
    f = _parse(written)

    devices = {dict(k)["state"]: v for k, v in f["mspctl_devices"].items() if dict(k)["client"] == "acme"}
    assert devices == {s: float(by_state.get(s, 0)) for s in ("compliant", "drift", "failed", "skipped")}
    assert devices == {s: float(n) for s, n in drift_run["summary"].items() if s != "features_drifted"}
    # acme only, and no host series: acme has no patch records in this history
    assert {dict(k).get("client") for fam in f.values() for k in fam} == {"acme", None}
    assert "mspctl_hosts" not in f

    backup_run = json.loads(net("runs", "show", json.loads(backup.stdout)["run_id"], "-o", "json").stdout)
    last_run = {dict(k)["kind"]: v for k, v in f["mspctl_last_run_timestamp_seconds"].items()}
    last_ok = {dict(k)["kind"]: v for k, v in f["mspctl_last_success_timestamp_seconds"].items()}
    assert last_run == {"drift": _finished(drift_run), "backup": _finished(backup_run)}
    # the newest audit failed a device: the last success is the first audit
    assert last_ok == {"drift": _finished(json.loads(first.stdout)), "backup": _finished(backup_run)}
    assert set(f["mspctl_runs_unfinished"].values()) == {0.0}
    assert f["mspctl_records_chain_ok"] == {(): 1.0}
