"""The policy table: four release types that differ only in data."""

from __future__ import annotations

import re

import pytest

from laravel_release import config, policy


def test_the_four_release_types_of_the_seed():
    assert list(policy.RELEASE_TYPES) == ["hotfix", "feature", "maintenance", "major"]
    assert [t.dag_id for t in policy.RELEASE_TYPES.values()] == [
        "release_hotfix",
        "release_feature",
        "release_maintenance",
        "release_major",
    ]


@pytest.mark.parametrize("rtype", policy.RELEASE_TYPES.values(), ids=lambda t: t.name)
def test_every_type_verifies_staging_first_and_ends_in_production(rtype):
    assert rtype.stages[0] == "staging"
    assert rtype.stages[-1] == "production"
    assert set(rtype.stages) <= set(config.ENVIRONMENTS)


def test_a_hotfix_skips_uat_and_needs_a_reason():
    hotfix = policy.release_type("hotfix")
    assert "uat" not in hotfix.stages and not hotfix.uat_signoff
    assert hotfix.requires_reason and hotfix.window is None


@pytest.mark.parametrize("name", ["feature", "maintenance", "major"])
def test_other_types_need_uat_signoff(name):
    rtype = policy.release_type(name)
    assert rtype.stages == ("staging", "uat", "production") and rtype.uat_signoff
    assert rtype.window is not None and rtype.window.start == "02:00"


def test_release_windows_of_the_seed():
    assert policy.release_type("feature").window.weekdays == (2, 3, 4)
    assert policy.release_type("maintenance").window.weekdays == (2, 3, 4)
    assert policy.release_type("major").window.weekdays == (6,)


@pytest.mark.parametrize("version", ["v1.0.0", "v10.20.30", "v2.0.0-rc.1"])
def test_version_pattern_accepts_tags(version):
    assert re.match(policy.VERSION_PATTERN, version)


@pytest.mark.parametrize("version", ["1.0.0", "v1.0", "v01.0.0", "v1.0.0; rm -rf /", "latest", "v1.0.0 ", ""])
def test_version_pattern_refuses_anything_else(version):
    assert not re.match(policy.VERSION_PATTERN, version)


def test_an_unknown_type_names_the_known_ones():
    with pytest.raises(KeyError, match="hotfix, feature, maintenance, major"):
        policy.release_type("urgent")
