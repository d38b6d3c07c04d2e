"""Simulated network devices for the lab, reached over real SSH.

One asyncio process serves many devices (Cisco IOS and Arista EOS CLIs), each on its own
loopback address and/or port, with fault knobs that tests flip through a control socket.

    config_tree.py   the configuration as a tree of lines: parse, render, edit
    platforms.py     per-platform grammar, prompts, messages and show output
    device.py        one device's state: running/startup config, knobs, counters
    cli_session.py   one CLI session: modes, commands, config lines, output filters
    server.py        asyncssh servers and the terminal line discipline
    control.py       the JSON-lines control socket and its client
    spec.py          the spec file format and the knobs
    runner.py        serve in the foreground, or up/down/status as a daemon

Run ``python -m lab.devices --help``.
"""
