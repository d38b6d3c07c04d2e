"""mspctl/patch/versions.py: dpkg, rpm and network OS version ordering."""

from __future__ import annotations

import pytest

from mspctl.patch.versions import compare, compare_deb, compare_os, compare_rpm


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


# (a, b, sign of compare(a, b)), from dpkg's own test suite (lib/dpkg/t/t-version.c) and Debian practice.
DEB_CASES = [
    ("1.0~rc1", "1.0", -1),
    ("3.0.11-1", "3.0.11-1+deb12u1", -1),
    ("1:1.0", "2.0", 1),
    ("1.2.0-1", "1.3.0-1", -1),
    ("1.0", "1.0-0", 0),
    ("0:1.0", "1.0", 0),
    ("1.0-1", "1.0-1", 0),
    ("1.0~~", "1.0~~a", -1),
    ("1.0~~a", "1.0~", -1),
    ("1.0~", "1.0", -1),
    ("1.0", "1.0a", -1),
    ("1.0a", "1.0+", -1),   # letters sort before other characters
    ("1.0+", "1.0.", -1),
    ("1.10", "1.9", 1),      # digit runs compare as numbers
    ("1.010", "1.10", 0),    # leading zeros do not count
    ("2.4.57-1", "2.4.57-1+deb12u1", -1),
    ("1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2", 1),
    ("1.0-1ubuntu1", "1.0-1", 1),
    ("2:0.1", "1:9.9", 1),
    ("1.2-3-4", "1.2-3-5", -1),  # the revision starts after the last hyphen
]


@pytest.mark.parametrize(("a", "b", "expected"), DEB_CASES)
def test_compare_deb_matches_dpkg(a: str, b: str, expected: int) -> None:
    assert sign(compare_deb(a, b)) == expected
    assert sign(compare_deb(b, a)) == -expected


def test_compare_deb_rejects_a_non_numeric_epoch() -> None:
    with pytest.raises(ValueError, match="non-numeric epoch 'x'"):
        compare_deb("x:1.0", "1.0")


# From rpm's own tests (tests/rpmvercmp.at), plus epoch and release handling.
RPM_CASES = [
    ("1.0", "2.0", -1),
    ("2.0.1", "2.0", 1),
    ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p10", -1),
    ("10xyz", "10.1xyz", -1),
    ("xyz.4", "8", -1),          # numbers are newer than letters
    ("6.0.rc1", "6.0", 1),
    ("10b2", "10a1", 1),
    ("1.0a", "1.0aa", -1),
    ("10.0001", "10.1", 0),
    ("4.999.9", "5.0", -1),
    ("2_0", "2.0", 0),           # separators only separate
    ("a+", "a_", 0),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0.1", -1),
    ("1.0^20160102", "1.0^20160101^git1", 1),
    ("1.0~rc1^git1", "1.0~rc1", 1),
    ("1.0^git1~pre", "1.0^git1", -1),
    ("1:1.0-1", "2.0-1", 1),
    ("0:1.0-1", "1.0-1", 0),
    ("3.0.7-24.el9", "3.0.7-25.el9", -1),
    ("3.0.7-25.el9", "3.0.7", 0),  # no release on one side: releases are not compared
]


@pytest.mark.parametrize(("a", "b", "expected"), RPM_CASES)
def test_compare_rpm_matches_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert sign(compare_rpm(a, b)) == expected
    assert sign(compare_rpm(b, a)) == -expected


OS_CASES = [
    ("17.9.4a", "17.9.4", 1),
    ("17.9.4a", "17.12.2", -1),
    ("4.28.3M", "4.30.1F", -1),
    ("4.28.3M", "4.28.3M", 0),
    ("15.2(7)E8", "15.2(7)E10", -1),
    ("15.2(7)E8", "15.2(4)E10", 1),
    ("15.9(3)M7", "17.6.5", -1),
    ("17.9.4A", "17.9.4a", 0),
    ("17.9.4", "17.9.a", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), OS_CASES)
def test_compare_os(a: str, b: str, expected: int) -> None:
    assert sign(compare_os(a, b)) == expected
    assert sign(compare_os(b, a)) == -expected


@pytest.mark.parametrize(("manager", "expected"), [("apt", -1), ("dpkg", -1), ("dnf", 0), ("yum", 0),
                                                   ("rpm", 0), ("", -1), ("zypper", -1)])
def test_compare_dispatches_on_the_package_manager(manager: str, expected: int) -> None:
    # dpkg: "1.0" == "1.0-0" < "1.0-1"; rpm ignores the release when one side has none.
    assert sign(compare("1.0", "1.0-1", manager)) == expected
