"""The one error hierarchy. Every user-facing failure is an `MspctlError`.

Each error carries a stable ``code`` (documented in docs/errors.md, safe to grep for in CI
logs), a process ``exit_code``, and a ``hint`` saying what to do. The CLI prints one line per
error; tracebacks only with ``--debug``. Messages pass through `mspctl.redact` before they
are shown, so a secret that slipped into an underlying library's message is masked.
"""

from __future__ import annotations


class ExitCode:
    """Process exit codes. Stable: scheduled CI jobs branch on them."""

    OK = 0
    ERROR = 1  # unexpected internal error
    USAGE = 2  # bad flags or arguments (click's own code)
    PARTIAL = 3  # some targets failed, the rest succeeded
    FINDINGS = 4  # the run worked and found drift / non-compliance
    NO_MATCH = 5  # the scope or filter selected nothing
    REFUSED = 6  # refused to start: outside the change window, or another window holds the lock
    NOTHING_CHECKED = 7  # targets were selected, but every one was skipped: nothing was checked
    CONFIG = 10  # settings or MSP repository files invalid
    AUTH = 11  # NetBox rejected the token
    UNREACHABLE = 12  # NetBox (or another service) could not be reached
    NOT_FOUND = 13  # a named object (client, device) does not exist
    STORAGE = 14  # a file or store mspctl writes could not be written (disk full, read-only, quota)
    INTERRUPTED = 130  # SIGINT/SIGTERM: no new target started, the ones in flight finished or rolled back


class MspctlError(Exception):
    """Root of every error mspctl reports to a user."""

    code = "MSP-000"
    exit_code = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None,
                 exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if code is not None:
            self.code = code
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        from mspctl.redact import redact

        text = f"{self.code}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return redact(text)


class ConfigError(MspctlError):
    """A settings file or an MSP repository file is invalid; the message starts with file:line."""

    code = "MSP-CFG-001"
    exit_code = ExitCode.CONFIG


class UsageError(MspctlError):
    """Arguments that parse but make no sense together, or a filter that cannot be applied."""

    code = "MSP-USE-001"
    exit_code = ExitCode.USAGE


class InvalidFilterError(UsageError):
    code = "MSP-INV-400"


class NoMatchError(MspctlError):
    code = "MSP-INV-204"
    exit_code = ExitCode.NO_MATCH


class NotFoundError(MspctlError):
    code = "MSP-INV-404"
    exit_code = ExitCode.NOT_FOUND


class UnknownClientError(NotFoundError):
    code = "MSP-INV-404"


class UnknownDeviceError(NotFoundError):
    code = "MSP-INV-405"


class NetBoxError(MspctlError):
    """NetBox refused a request (a 4xx other than auth, a bad filter or a missing path)."""

    code = "MSP-NB-400"
    exit_code = ExitCode.ERROR


class NetBoxServerError(NetBoxError):
    """NetBox, or a proxy before it, answered 5xx, after the retries a read gets."""

    code = "MSP-NB-500"
    exit_code = ExitCode.UNREACHABLE


class NetBoxBadAnswerError(NetBoxError):
    """NetBox's answer was cut short or not JSON: nothing of it is used."""

    code = "MSP-NB-502"
    exit_code = ExitCode.UNREACHABLE


class NetBoxUnreachableError(NetBoxError):
    code = "MSP-NB-503"
    exit_code = ExitCode.UNREACHABLE


class NetBoxIncompleteError(NetBoxError):
    """NetBox's rows did not add up to its own count: a read is all or an error, never partial."""

    code = "MSP-NB-206"
    exit_code = ExitCode.UNREACHABLE


class NetBoxAuthError(NetBoxError):
    code = "MSP-NB-401"
    exit_code = ExitCode.AUTH


class NetBoxPermissionError(NetBoxAuthError):
    code = "MSP-NB-403"


class CacheError(MspctlError):
    code = "MSP-CACHE-001"
    exit_code = ExitCode.ERROR


class OfflineCacheMissError(CacheError):
    code = "MSP-CACHE-404"
    exit_code = ExitCode.NOT_FOUND


class CacheCorruptError(CacheError):
    """The inventory cache file is not a readable SQLite database, or holds a row or meta value
    mspctl cannot read back. The message starts with the file; ``--refresh`` rebuilds it."""

    code = "MSP-CACHE-422"
    exit_code = ExitCode.CONFIG


class OfflineRefusedError(UsageError):
    """``--offline`` on a command that needs NetBox (docs/offline.md): refused before anything
    was read or changed."""

    code = "MSP-OFFLINE-400"


class StorageError(MspctlError):
    """A file, the backups repository or the run records could not be written: the disk is full,
    read-only or over quota. Nothing was half-written (files are replaced whole, the records and
    git are transactional)."""

    code = "MSP-IO-507"
    exit_code = ExitCode.STORAGE


def storage_error(exc: BaseException, what: str, code: str | None = None) -> MspctlError | None:
    """The `StorageError` for `exc` when it is a full, read-only or over-quota disk (an OSError's
    errno, or SQLite's and git's messages for them); None for other failures."""
    import errno as _errno

    full = {_errno.ENOSPC, _errno.EDQUOT, _errno.EROFS, _errno.EFBIG}
    text = str(exc).lower()
    if isinstance(exc, OSError) and exc.errno in full:
        reason = exc.strerror or str(exc)
    elif any(m in text for m in ("disk is full", "no space left", "read-only file system", "quota exceeded")):
        reason = str(exc).strip().splitlines()[-1][:200]
    else:
        return None
    return StorageError(f"{what}: {reason}", code=code,
                        hint="free space on that disk (or make it writable), then run again")


class RefusedError(MspctlError):
    """A change that may not start now: outside its window, or another run holds the lock."""

    code = "MSP-WIN-001"
    exit_code = ExitCode.REFUSED


class RunInterrupted(MspctlError):
    """SIGINT/SIGTERM stopped a run before this target started (`mspctl.interrupts`): the
    target is `skipped` with this code, the run is recorded `interrupted` and exits 130."""

    code = "MSP-RUN-499"
    exit_code = ExitCode.INTERRUPTED


class ChainBrokenError(MspctlError):
    """`mspctl runs verify` found a record of the history changed, removed or inserted behind
    mspctl's back; the message names the first broken link's run and why (docs/history.md)."""

    code = "MSP-REC-409"
    exit_code = ExitCode.FINDINGS


class PathEscapeError(ConfigError):
    """A file mspctl would write (or read) for a NetBox object resolves outside its folder: a
    symbolic link inside the folder points elsewhere. The message starts with the path; nothing
    was written there."""

    code = "MSP-PATH-400"


class ExecutorError(MspctlError):
    """The distributed executor (`[executor] backend = "celery"`, docs/scale.md) cannot run:
    its broker cannot be reached, or no worker answers."""

    code = "MSP-EXEC-503"
    exit_code = ExitCode.UNREACHABLE


class BatchLost(MspctlError):
    """A batch of targets sent to the workers came back from none of them: every worker that
    took it died or went dark, and no other worker finished it in time. Its targets fail with
    this code (a read), or are `unfinished` (a change: never run twice)."""

    code = "MSP-EXEC-408"
    exit_code = ExitCode.PARTIAL


class PluginError(ConfigError):
    """A plugin (an entry point of ``mspctl.*``, docs/plugins.md) does not load, or is not the
    kind of object its group needs. The message names the plugin, its object and its package."""

    code = "MSP-PLUG-500"


class UnknownPluginError(PluginError):
    """No installed plugin has the name a setting or option asks for; the hint lists those
    installed."""

    code = "MSP-PLUG-404"
