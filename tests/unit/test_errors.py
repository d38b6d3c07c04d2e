"""mspctl/errors.py: codes and exit codes are a stable contract (CI jobs branch on them)."""

from __future__ import annotations

import pytest

from mspctl import errors
from mspctl.errors import ExitCode, MspctlError


def test_exit_code_table_is_stable() -> None:
    assert {name: value for name, value in vars(ExitCode).items() if name.isupper()} == {
        "OK": 0, "ERROR": 1, "USAGE": 2, "PARTIAL": 3, "FINDINGS": 4, "NO_MATCH": 5, "REFUSED": 6, "NOTHING_CHECKED": 7,
        "CONFIG": 10, "AUTH": 11, "UNREACHABLE": 12, "NOT_FOUND": 13, "STORAGE": 14, "INTERRUPTED": 130,
    }


CODES = [
    (errors.MspctlError, "MSP-000", 1),
    (errors.ConfigError, "MSP-CFG-001", 10),
    (errors.UsageError, "MSP-USE-001", 2),
    (errors.InvalidFilterError, "MSP-INV-400", 2),
    (errors.NoMatchError, "MSP-INV-204", 5),
    (errors.NotFoundError, "MSP-INV-404", 13),
    (errors.UnknownClientError, "MSP-INV-404", 13),
    (errors.UnknownDeviceError, "MSP-INV-405", 13),
    (errors.NetBoxError, "MSP-NB-400", 1),
    (errors.NetBoxServerError, "MSP-NB-500", 12),
    (errors.StorageError, "MSP-IO-507", 14),
    (errors.NetBoxBadAnswerError, "MSP-NB-502", 12),
    (errors.NetBoxUnreachableError, "MSP-NB-503", 12),
    (errors.NetBoxIncompleteError, "MSP-NB-206", 12),
    (errors.NetBoxAuthError, "MSP-NB-401", 11),
    (errors.NetBoxPermissionError, "MSP-NB-403", 11),
    (errors.CacheError, "MSP-CACHE-001", 1),
    (errors.OfflineCacheMissError, "MSP-CACHE-404", 13),
    (errors.CacheCorruptError, "MSP-CACHE-422", 10),
    (errors.OfflineRefusedError, "MSP-OFFLINE-400", 2),
    (errors.RefusedError, "MSP-WIN-001", 6),
    (errors.PathEscapeError, "MSP-PATH-400", 10),
    (errors.RunInterrupted, "MSP-RUN-499", 130),
    (errors.ChainBrokenError, "MSP-REC-409", 4),
    (errors.ExecutorError, "MSP-EXEC-503", 12),
    (errors.BatchLost, "MSP-EXEC-408", 3),
    (errors.PluginError, "MSP-PLUG-500", 10),
    (errors.UnknownPluginError, "MSP-PLUG-404", 10),
]


@pytest.mark.parametrize(("cls", "code", "exit_code"), CODES)
def test_error_code_and_exit_code(cls: type[MspctlError], code: str, exit_code: int) -> None:
    err = cls("something failed")
    assert isinstance(err, MspctlError)
    assert (err.code, err.exit_code) == (code, exit_code)
    assert str(err) == f"{code}: something failed"


def test_every_error_class_is_covered_and_rooted() -> None:
    classes = {obj for obj in vars(errors).values() if isinstance(obj, type) and issubclass(obj, Exception)}
    assert all(issubclass(cls, MspctlError) for cls in classes)
    assert classes == {cls for cls, _, _ in CODES}  # a new error class needs a row in CODES


def test_hierarchy_lets_callers_catch_families() -> None:
    assert issubclass(errors.InvalidFilterError, errors.UsageError)
    assert issubclass(errors.UnknownClientError, errors.NotFoundError)
    assert issubclass(errors.UnknownDeviceError, errors.NotFoundError)
    assert issubclass(errors.NetBoxPermissionError, errors.NetBoxAuthError)
    assert issubclass(errors.NetBoxUnreachableError, errors.NetBoxError)
    assert issubclass(errors.OfflineCacheMissError, errors.CacheError)
    assert issubclass(errors.PathEscapeError, errors.ConfigError)


def test_instance_code_and_exit_code_override_leaves_class_alone() -> None:
    err = errors.UnknownDeviceError("two assets", code="MSP-INV-409", exit_code=ExitCode.USAGE)
    assert (err.code, err.exit_code) == ("MSP-INV-409", 2)
    assert (errors.UnknownDeviceError.code, errors.UnknownDeviceError.exit_code) == ("MSP-INV-405", 13)


def test_str_includes_hint_and_message_attribute_is_raw() -> None:
    err = errors.ConfigError("f.toml:3: unknown key", hint="known: url")
    assert str(err) == "MSP-CFG-001: f.toml:3: unknown key (known: url)"
    assert err.message == "f.toml:3: unknown key"
    assert err.hint == "known: url"


def test_a_full_or_read_only_disk_is_a_storage_error_and_other_failures_are_not() -> None:
    import errno
    import sqlite3

    full = errors.storage_error(OSError(errno.ENOSPC, "No space left on device"), "/x/y.cfg: cannot write")
    assert isinstance(full, errors.StorageError) and full.exit_code == ExitCode.STORAGE
    assert str(full).startswith("MSP-IO-507: /x/y.cfg: cannot write: No space left on device (free space")
    ro = errors.storage_error(OSError(errno.EROFS, "Read-only file system"), "w", code="MSP-REC-507")
    assert ro is not None and ro.code == "MSP-REC-507"
    assert errors.storage_error(sqlite3.OperationalError("database or disk is full"), "r") is not None
    assert errors.storage_error(RuntimeError("fatal: unable to write: No space left on device"), "git") is not None
    assert errors.storage_error(OSError(errno.EACCES, "Permission denied"), "w") is None
    assert errors.storage_error(ValueError("bad"), "w") is None
