"""Real Linux hosts for patch-management tests: Debian 12 in network namespaces, over SSH.

``python -m lab.hosts up`` starts N hosts (default 5), each with its own network namespace, overlay
root filesystem, PID/mount/UTS namespaces and sshd, seeded with old versions of demo packages that a
local, signed apt repository offers updates for (security and normal ones apart). See README.md.
Modules: ``base`` (debootstrap base), ``repo`` (packages, repository, HTTP server), ``seed``
(per-host package states), ``network`` (bridge, veths), ``host`` (one host), ``lab`` (a set of hosts),
``_init`` (each host's PID 1).
"""
