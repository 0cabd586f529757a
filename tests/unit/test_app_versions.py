"""Application versions: SemVer 2.0.0 precedence, and choosing a version."""

import pytest

from dcmanager.apps import versions

# The precedence order of SemVer 2.0.0 §11, lowest first.
PRECEDENCE = [
    "0.9.9",
    "1.0.0-0",
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.2.0",
    "1.9.0",
    "1.9.9",
    "1.10.0",
    "2.0.0",
]


@pytest.mark.parametrize(
    "text",
    [
        "0.0.0",
        "1.2.3",
        "1.2.3-rc.1",
        "1.2.3-0",
        "1.2.3-alpha.0a",
        "1.2.3+build.5",
        "1.2.3-rc.1+build.5",
        "10.20.30",
        "1.0.0-x-y-z.--",
    ],
)
def test_semver_strings(text):
    assert versions.parse(text) is not None


@pytest.mark.parametrize(
    "text",
    [
        "1.0-13",
        "24.09-1",
        "1.0",
        "1",
        "01.0.0",
        "1.01.0",
        "1.0.0-01",
        "1.0.0-",
        "v1.0.0",
        "1.0.0-a..b",
        "1.0.0+",
        "1.0.0+a+b",
        " 1.0.0",
        "1.0.0 ",
        "",
        "latest",
        "1.0.0-é",
    ],
)
def test_strings_that_are_not_semver(text):
    assert versions.parse(text) is None
    assert versions.latest([text]) is None


def test_precedence_is_semver_section_11():
    shuffled = PRECEDENCE[::2] + PRECEDENCE[1::2]
    assert versions.ordered(shuffled) == PRECEDENCE


def test_build_metadata_has_no_precedence():
    assert versions.same_precedence("1.0.0+b2", ["1.0.0+b1", "1.0.1"]) == "1.0.0+b1"
    assert versions.same_precedence("1.0.0", ["1.0.0-rc.1", "1.0.1"]) is None
    assert versions.same_precedence("1.0-13", ["1.0-13+x"]) is None


def test_versions_that_are_not_semver_come_last_in_their_order():
    assert versions.ordered(["1.0-13", "2.0.0", "24.09-1", "1.0.0"]) == [
        "1.0.0",
        "2.0.0",
        "1.0-13",
        "24.09-1",
    ]


@pytest.mark.parametrize(
    ("available", "wanted", "prerelease", "chosen"),
    [
        (["1.0.0", "1.9.9", "1.10.0"], "latest", False, "1.10.0"),
        (["1.0.0", "2.0.0-rc.1"], "latest", False, "1.0.0"),
        (["1.0.0", "2.0.0-rc.1"], "latest", True, "2.0.0-rc.1"),
        (["1.0.0", "1.0-13", "99.0-1"], "latest", False, "1.0.0"),
        (["1.0-13", "1.0.0"], "1.0-13", False, "1.0-13"),
        (["1.0.0+build.7"], "1.0.0+build.7", False, "1.0.0+build.7"),
        # An exact string first: an application may have a version named "latest".
        (["latest", "2.0.0"], "latest", False, "latest"),
    ],
)
def test_selecting(available, wanted, prerelease, chosen):
    assert versions.select("app", available, wanted, prerelease) == chosen


@pytest.mark.parametrize(
    ("available", "wanted", "error", "message"),
    [
        ([], "1.0.0", versions.AppNotFound, "Application app not found"),
        ([], "latest", versions.AppNotFound, "Application app not found"),
        (["1.9.9"], "1.9", versions.AppVersionNotFound, "Application app has no version 1.9"),
        (["1.0.0+b1"], "1.0.0", versions.AppVersionNotFound, "has no version 1.0.0"),
        (["1.0-13"], "latest", versions.NoLatestVersion, "no SemVer release"),
        (["2.0.0-rc.1"], "latest", versions.NoLatestVersion, "no SemVer release"),
    ],
)
def test_each_miss_has_its_own_error(available, wanted, error, message):
    with pytest.raises(error, match=message) as caught:
        versions.select("app", available, wanted)
    assert caught.value.code == 404
