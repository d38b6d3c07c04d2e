"""Ansible drives the lab hosts through ansible-runner, with an inline inventory built from `up --json`."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import ansible_runner

VENV_BIN = str(Path(sys.executable).parent)


def _inventory(host_lab, hosts) -> dict:
    info = host_lab.info
    return {"all": {
        "vars": {"ansible_user": info["user"], "ansible_ssh_private_key_file": info["ssh_private_key"],
                 "ansible_ssh_common_args": f"-F {info['ssh_config']}",
                 "ansible_python_interpreter": "/usr/bin/python3"},
        "hosts": {h["name"]: {"ansible_host": h["address"], "ansible_port": h["port"]} for h in hosts}}}


def _run(host_lab, hosts, playbook, tmp_path, monkeypatch):
    # ansible-runner starts ansible-playbook from PATH: the venv's bin must be on it.
    monkeypatch.setenv("PATH", f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    env = {"PATH": os.environ["PATH"], "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",  # no ssh masters left behind
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"), "ANSIBLE_NOCOLOR": "1"}
    (tmp_path / "runner").mkdir()
    return ansible_runner.run(private_data_dir=str(tmp_path / "runner"), inventory=_inventory(host_lab, hosts),
                              playbook=playbook, envvars=env, quiet=True, timeout=600)


def test_package_facts_and_become_on_every_host(host_lab, tmp_path, monkeypatch):
    playbook = [{"hosts": "all", "gather_facts": False, "tasks": [
        {"name": "facts", "ansible.builtin.package_facts": {}},
        {"name": "become", "ansible.builtin.command": "id -u", "become": True, "register": "uid",
         "changed_when": False},
        {"ansible.builtin.assert": {"that": ["uid.stdout == '0'"]}},
    ]}]
    result = _run(host_lab, host_lab.hosts, playbook, tmp_path, monkeypatch)
    assert result.status == "successful", result.stdout.read()
    assert set(result.stats["ok"]) == {h["name"] for h in host_lab.hosts}
    assert not result.stats["failures"] and not result.stats["dark"]
    facts = {e["event_data"]["host"]: e["event_data"]["res"]["ansible_facts"]["packages"]
             for e in result.events if e["event"] == "runner_on_ok" and e["event_data"]["task"] == "facts"}
    for h in host_lab.hosts:
        seen = {name: facts[h["name"]][name][0]["version"] for name in facts[h["name"]] if name.startswith("mspdemo-")}
        assert seen == h["installed"]


def test_the_reboot_module_reboots_a_host(host_lab, tmp_path, monkeypatch):
    host = host_lab.host(4)
    before = host_lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout
    playbook = [{"hosts": "all", "gather_facts": False, "become": True,
                 "tasks": [{"name": "reboot", "ansible.builtin.reboot": {"reboot_timeout": 120}}]}]
    result = _run(host_lab, [host], playbook, tmp_path, monkeypatch)
    assert result.status == "successful", result.stdout.read()
    assert host_lab.ssh(host, "cat /proc/sys/kernel/random/boot_id").stdout != before
