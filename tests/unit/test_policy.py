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


# ── release windows ─────────────────────────────────────────────────────────

from datetime import UTC, datetime, timedelta  # noqa: E402

FEATURE = policy.Window(weekdays=(2, 3, 4), start="02:00", hours=2)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in December 2026 (the 1st is a Tuesday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (at(1, 1, 59), False),  # Tuesday, a minute early
        (at(1, 2, 0), True),  # Tuesday, opening
        (at(1, 3, 59), True),
        (at(1, 4, 0), False),  # closed after two hours
        (at(3, 2, 30), True),  # Thursday
        (at(4, 2, 30), False),  # Friday
        (at(7, 2, 30), False),  # Monday
    ],
)
def test_the_feature_window(moment, is_open):
    assert FEATURE.is_open(moment) is is_open


def test_every_quarter_hour_of_a_month_agrees_with_the_next_opening():
    """For every 15 minutes of December 2026: open iff inside [opening, opening + length) of some opening."""
    openings = [at(d, 2) for d in range(1, 32) if at(d, 2).isoweekday() in (2, 3, 4)]
    assert len(openings) == 15
    moment = at(1, 0)
    while moment < at(31, 23):
        expected = any(o <= moment < o + timedelta(hours=2) for o in openings)
        assert FEATURE.is_open(moment) is expected, moment
        nxt = FEATURE.next_opening(moment)
        assert nxt >= moment and nxt in [*openings, datetime(2027, 1, 5, 2, tzinfo=UTC)], moment
        assert not any(moment <= o < nxt for o in openings), moment  # no opening is skipped
        moment += timedelta(minutes=15)


def test_a_window_can_run_past_midnight():
    late = policy.Window(weekdays=(6,), start="23:00", hours=4)  # Saturday 23:00 to Sunday 03:00
    assert late.is_open(at(5, 23, 30)) and late.is_open(at(6, 2, 59))
    assert not late.is_open(at(6, 3, 0)) and not late.is_open(at(6, 23, 30))
    assert late.opened(at(6, 1)) == at(5, 23)


def test_next_opening_from_inside_a_window_is_the_next_one():
    assert FEATURE.next_opening(at(1, 2, 30)) == at(2, 2)
    assert FEATURE.next_opening(at(3, 5)) == at(8, 2)  # Thursday after the window: next Tuesday
    assert FEATURE.next_opening(at(1, 2)) == at(1, 2)


@pytest.mark.parametrize(
    ("weekdays", "start", "hours", "message"),
    [
        ((), "02:00", 2, "weekdays"),
        ((0,), "02:00", 2, "ISO weekdays"),
        ((8,), "02:00", 2, "ISO weekdays"),
        ((2,), "2am", 2, "24-hour UTC time"),
        ((2,), "24:00", 2, "24-hour UTC time"),
        ((2,), "02:00", 0, "more than 0"),
        ((2,), "02:00", 25, "at most 24"),
    ],
)
def test_a_window_that_cannot_parse_is_refused_when_the_policy_is_imported(weekdays, start, hours, message):
    with pytest.raises(policy.WindowError, match=message):
        policy.Window(weekdays=weekdays, start=start, hours=hours)


def test_the_cron_expression_of_each_window():
    assert policy.release_type("feature").window.cron == "0 2 * * 2,3,4"
    assert policy.release_type("major").window.cron == "0 2 * * 6"
    assert policy.Window(weekdays=(7, 1), start="23:30", hours=1).cron == "30 23 * * 0,1"


def test_only_a_hotfix_passes_a_freeze():
    assert [t.name for t in policy.RELEASE_TYPES.values() if t.passes_freeze] == ["hotfix"]
    assert all(t.min_coverage_percent == 90 and t.max_critical_findings == 0 for t in policy.RELEASE_TYPES.values())
