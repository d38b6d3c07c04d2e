"""The job format of distributed runs (mspctl/scale/jobs.py, pushing.py, patching.py): what
crosses the broker is JSON without secrets, and comes back as what a local run returns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mspctl.adapters.netmiko import DeviceTarget
from mspctl.credentials import CredentialStore
from mspctl.drift.compare import FeatureResult
from mspctl.errors import ConfigError
from mspctl.model import Asset
from mspctl.push.service import DevicePush
from mspctl.scale.jobs import Batch, RemoteTask, describe, device_target
from mspctl.scale.patching import subset
from mspctl.scale.pushing import push_from_json, push_to_json

TARGET = DeviceTarget("acme-core-sw1", "127.20.1.1", 2222, "cisco_ios", "netops", "pw-not-for-the-broker",
                      "enable-not-for-the-broker", credentials="acme-netops")


def test_a_description_names_the_credentials_and_holds_no_secret() -> None:
    spec = describe(TARGET, platform="cisco_ios")
    text = json.dumps(spec)
    assert "pw-not-for-the-broker" not in text and "enable-not-for-the-broker" not in text
    assert "netops" not in text.replace("acme-netops", "")  # nor the username
    assert spec["credentials"] == "acme-netops" and spec["host"] == "127.20.1.1" and spec["platform"] == "cisco_ios"


def test_a_worker_resolves_the_named_credentials_itself(tmp_path: Path) -> None:
    creds = tmp_path / "credentials.toml"
    creds.write_text('[acme-netops]\nusername = "w-user"\npassword = "w-pass"\nsecret = "w-enable"\n')
    creds.chmod(0o600)
    store = CredentialStore(env={"MSPCTL_CREDENTIALS_FILE": str(creds)})
    target = device_target({**describe(TARGET), "key": "device:1"}, store)
    assert (target.username, target.password, target.secret) == ("w-user", "w-pass", "w-enable")
    assert (target.name, target.host, target.port, target.driver) == ("acme-core-sw1", "127.20.1.1", 2222, "netmiko")
    with pytest.raises(ValueError, match="no credentials reference"):
        device_target({**describe(TARGET), "credentials": ""}, store)


def test_a_batch_is_json_both_ways() -> None:
    batch = Batch("backup-1-ab12", 3, 2, "device.config", [{**describe(TARGET), "key": "device:1"}], {"x": 1},
                  "git:abc", False, 30.0, 1, 4)
    wire = json.loads(json.dumps(batch.to_json()))
    assert Batch.from_json(wire) == batch


def test_a_remote_task_still_runs_locally_and_keeps_its_guard() -> None:
    seen: list[str] = []
    task = RemoteTask("device.config", lambda ctx: f"local {ctx.target}", {"device:1": describe(TARGET)})

    def guard(fn):  # type: ignore[no-untyped-def]
        def wrapped(ctx):  # type: ignore[no-untyped-def]
            seen.append(ctx.target)
            return fn(ctx)
        return wrapped

    from mspctl.executor import TaskContext

    guarded = task.guarded(guard, lambda: False)
    assert isinstance(guarded, RemoteTask) and guarded.operation == "device.config"
    assert guarded(TaskContext("device:1", 1, 5.0)) == "local device:1" and seen == ["device:1"]


def test_a_push_result_comes_back_as_the_local_value() -> None:
    asset = Asset("device", 7, "initech-rtr1", "initech", status="active", platform="cisco_ios")
    d = DevicePush(asset, "applied", features=["snmp"], commands=["snmp-server community <removed> RO"],
                   accepted=["snmp-server community <removed> RO"], post_check=[FeatureResult("snmp", "compliant")],
                   pre_config="hostname initech-rtr1\n", snapshot="flash:mspctl-push-1.cfg", self_revert="revert-timer",
                   pre_digest="a" * 64, post_digest="b" * 64, warnings=["w"])
    back = push_from_json(json.loads(json.dumps(push_to_json(d))))
    assert back == d


def test_a_patch_batch_carries_only_its_own_hosts() -> None:
    inventory = {"all": {"children": {"acme": {"hosts": {"h1": {"ansible_host": "10.0.0.1"},
                                                         "h2": {"ansible_host": "10.0.0.2"}},
                                               "vars": {"client": "acme"}}}}}
    cut = subset(inventory, ["h2"])
    assert cut == {"all": {"children": {"acme": {"hosts": {"h2": {"ansible_host": "10.0.0.2"}},
                                                 "vars": {"client": "acme"}}}}}


def test_the_visibility_timeout_must_exceed_the_longest_batch(tmp_path: Path) -> None:
    from mspctl.scale.celery_backend import CELERY
    from mspctl.settings import load_settings

    settings = load_settings(cwd=tmp_path, env={"MSPCTL_EXECUTOR": "celery", "MSPCTL_BROKER_URL":
                                                "redis://127.0.0.1:1/0", "MSPCTL_EXECUTOR_VISIBILITY_TIMEOUT": "20",
                                                "MSPCTL_DEVICES_TIMEOUT": "30"})
    ex = CELERY.executor(settings)
    task = RemoteTask("device.config", lambda ctx: "", {"device:1": describe(TARGET)})
    with pytest.raises(ConfigError, match="is not longer than the longest batch"):
        ex.run(["device:1"], task)

