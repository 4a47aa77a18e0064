"""The release policy: one table, one row per release type.

Everything that differs between a hotfix, a feature, a maintenance and a major
release is data in this table; ``dag_factory.release_dag`` turns a row into a
DAG. A new release type is one new row here and one thin file in ``dags/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# A version is an annotated git tag such as v1.4.0 or v2.0.0-rc.1.
VERSION_PATTERN = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?$"
# a tag longer than this is a mistake (or an attack on the logs and release folder names)
VERSION_MAX_LENGTH = 64
# free text a person must give (a reason, an acknowledgement): at least one character that is not a space
TEXT_PATTERN = r"\S"
# how a rollback goes back: the code alone, the code and the bad release's migrations, or a backup restored
ROLLBACK_MODES = ("code", "migrations", "restore")


def version_key(version: str) -> tuple[int, int, int, int]:
    """Order versions: v1.10.0 after v1.9.0, a pre-release (v2.0.0-rc.1) before its release."""
    match = re.match(VERSION_PATTERN, version)
    if not match:
        return (-1, -1, -1, -1)
    major, minor, patch, pre = match.groups()
    return (int(major), int(minor), int(patch), 0 if pre else 1)


def _utc(at: datetime) -> datetime:
    """A plain UTC datetime (pendulum's, from Airflow, compare badly with the standard library's)."""
    if at.tzinfo is None:
        raise ValueError(f"{at!r} has no time zone: release windows are in UTC")
    return datetime.fromtimestamp(at.timestamp(), tz=UTC)


class WindowError(ValueError):
    """A release window that cannot be used; raised when the policy module is imported."""


@dataclass(frozen=True)
class Window:
    """When production may change: ISO weekdays (Monday = 1), a UTC start time and a length.

    A window opens at ``start`` on each of its weekdays and stays open ``hours``
    (it may run past midnight). Validated when created, so a window that cannot
    parse fails the DAG import test, not a run at 02:00.
    """

    weekdays: tuple[int, ...]
    start: str
    hours: float

    def __post_init__(self) -> None:
        if not self.weekdays or any(not isinstance(d, int) or not 1 <= d <= 7 for d in self.weekdays):
            raise WindowError(f"window weekdays {self.weekdays!r}: use ISO weekdays 1 (Monday) to 7 (Sunday)")
        if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", str(self.start)):
            raise WindowError(f"window start {self.start!r}: use a 24-hour UTC time such as 02:00")
        if not isinstance(self.hours, int | float) or not 0 < self.hours <= 24:
            raise WindowError(f"window length {self.hours!r} hours: use more than 0 and at most 24")

    @property
    def length(self) -> timedelta:
        return timedelta(hours=self.hours)

    def _opening(self, day: datetime) -> datetime:
        hour, minute = (int(p) for p in self.start.split(":"))
        return day.replace(hour=hour, minute=minute, second=0, microsecond=0)

    def opened(self, at: datetime) -> datetime | None:
        """When the window that is open at ``at`` opened, or None when it is closed."""
        at = _utc(at)
        for back in range(2):  # a window may have opened the day before and run past midnight
            opening = self._opening(at - timedelta(days=back))
            if opening.isoweekday() in self.weekdays and opening <= at < opening + self.length:
                return opening
        return None

    def is_open(self, at: datetime) -> bool:
        return self.opened(at) is not None

    def next_opening(self, at: datetime) -> datetime:
        """The next time the window opens at or after ``at`` (``at`` itself when it opens exactly then)."""
        at = _utc(at)
        for ahead in range(8):
            opening = self._opening(at + timedelta(days=ahead))
            if opening.isoweekday() in self.weekdays and opening >= at:
                return opening
        raise AssertionError("unreachable: a window opens at least once a week")

    @property
    def cron(self) -> str:
        """The window's openings as a cron expression (UTC; cron counts Sunday as 0)."""
        hour, minute = (int(p) for p in self.start.split(":"))
        return f"{minute} {hour} * * {','.join(str(d) for d in sorted(d % 7 for d in self.weekdays))}"

    def describe(self) -> str:
        names = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
        days = ", ".join(names[d - 1] for d in sorted(self.weekdays))
        return f"{days} from {self.start} UTC for {self.hours:g} h"


@dataclass(frozen=True)
class ReleaseType:
    name: str
    summary: str
    stages: tuple[str, ...]  # environments in order; production always last
    uat_signoff: bool  # production waits for a person to approve in UAT
    requires_reason: bool  # the trigger must say why (hotfix: which critical issue)
    window: Window | None  # None: any time
    passes_freeze: bool = False  # may deploy to a frozen environment (with its recorded reason)
    signoff_timeout_hours: float = 72.0  # an unanswered sign-off expires and counts as rejected
    # pre-release quality gates (the seed's KPIs): a release that misses one stops before production
    min_coverage_percent: float = 90.0
    max_critical_findings: int = 0
    # after production verifies, the rollback triggers are watched this long (the seed's "monitor deployment")
    watch_minutes: float = 30.0

    @property
    def dag_id(self) -> str:
        return f"release_{self.name}"


RELEASE_TYPES: dict[str, ReleaseType] = {
    row.name: row
    for row in (
        ReleaseType(
            name="hotfix",
            summary="Critical security fixes only: staging verification, then production, any time.",
            stages=("staging", "production"),
            uat_signoff=False,
            requires_reason=True,
            window=None,
            passes_freeze=True,
            watch_minutes=15,
        ),
        ReleaseType(
            name="feature",
            summary="New functionality with regression testing: staging, UAT sign-off, production.",
            stages=("staging", "uat", "production"),
            uat_signoff=True,
            requires_reason=False,
            window=Window(weekdays=(2, 3, 4), start="02:00", hours=2),
        ),
        ReleaseType(
            name="maintenance",
            summary="Bug fixes and improvements: staging, UAT sign-off, production.",
            stages=("staging", "uat", "production"),
            uat_signoff=True,
            requires_reason=False,
            window=Window(weekdays=(2, 3, 4), start="02:00", hours=2),
        ),
        ReleaseType(
            name="major",
            summary="Significant features and breaking changes: staging, UAT sign-off, production on Saturday.",
            stages=("staging", "uat", "production"),
            uat_signoff=True,
            requires_reason=False,
            window=Window(weekdays=(6,), start="02:00", hours=4),
            watch_minutes=60,
        ),
    )
}


@dataclass(frozen=True)
class Trigger:
    """A rollback trigger of the seed: a measured number, and the limit above which the release is undone."""

    name: str
    title: str
    metric: str  # the key of the measurement (see verify.measurements)
    limit: float  # tripped when the measurement is above it
    unit: str = ""


# The seed's seven rollback triggers ("Immediate rollback"), in its order.
ROLLBACK_TRIGGERS: tuple[Trigger, ...] = (
    Trigger("security", "critical security vulnerability", "critical_vulnerabilities", 0),
    Trigger("data", "data corruption or loss", "rows_lost", 0, " rows"),
    Trigger("performance", "performance degradation over 50%", "p95_degradation_percent", 50, "%"),
    Trigger("authentication", "user authentication failures", "auth_failures", 0),
    Trigger("database", "database connectivity failures", "database_failures", 0),
    Trigger("error_rate", "error rate over 5%", "error_rate_percent", 5, "%"),
    Trigger("response_time", "response time over 2 s", "p95_seconds", 2, " s"),
)

# The rollback DAG's row: any time, through a freeze (it sets one itself), with a reason.
ROLLBACK = ReleaseType(
    name="rollback",
    summary="Go back to a good release: switch back, optionally undo migrations or restore the backup.",
    stages=(),
    uat_signoff=False,
    requires_reason=True,
    window=None,
    passes_freeze=True,
)

# How long a restore's Required Action waits for an approver; unanswered, nothing is restored.
RESTORE_DECISION_HOURS = 24

# How long a release's own rollback waits for a person to choose how, when going back by code alone is not
# safe (the release's migrations drop, rename or rewrite); unanswered, nothing is switched and the
# environment stays frozen on the release (fix forward).
UNSAFE_ROLLBACK_DECISION_HOURS = 4

# When the live releases' locked dependencies are audited against the known advisories (DAG security_audit,
# UTC): a critical one the release before did not have raises the security trigger.
SECURITY_AUDIT_CRON = "0 5 * * *"

# A p95 baseline below this is counted as this when judging degradation, so that
# 4 ms becoming 9 ms on an idle page is not "125% slower".
DEGRADATION_FLOOR_SECONDS = 0.1

# The probe's requests to paths under this prefix are APIs, the others pages: the seed's performance
# targets (p95 < 300 ms for APIs, < 500 ms for pages) are judged apart.
API_PATH_PREFIX = "/api/"

# The seed's targets a single release is held to (its probe's figures): missed, the release warns and
# the report says so; they are targets, not rollback triggers.
RELEASE_TARGETS = ("p95_page_ms", "p95_api_ms", "error_rate_percent")


def release_type(name: str) -> ReleaseType:
    try:
        return RELEASE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown release type {name!r}; the policy defines {', '.join(RELEASE_TYPES)}") from None


@dataclass(frozen=True)
class Target:
    """A target of the seed's release metrics and KPIs: a figure, and on which side of ``limit`` it must be."""

    name: str
    title: str
    limit: float
    better: str  # "below", "above", "at most" or "at least" the limit
    unit: str = ""

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return {
            "below": value < self.limit,
            "above": value > self.limit,
            "at most": value <= self.limit,
            "at least": value >= self.limit,
        }[self.better]

    def describe(self) -> str:
        sign = {"below": "<", "above": ">", "at most": "≤", "at least": "≥"}[self.better]
        return f"{sign} {self.limit:g}{self.unit}"


# The seed's targets (Release Metrics & KPIs), as the release report checks them.
TARGETS: tuple[Target, ...] = (
    Target("deployment_frequency", "deployment frequency", 1, "at least", " per week"),  # "weekly releases"
    Target("lead_time_hours", "lead time for changes (median)", 7 * 24, "below", " h"),
    Target("change_failure_rate", "change failure rate", 5, "below", "%"),
    Target("time_to_restore_hours", "time to restore (median)", 1, "below", " h"),
    Target("coverage_percent", "test coverage (lowest)", 90, "above", "%"),
    Target("critical_vulnerabilities", "critical vulnerabilities (most in a release)", 0, "at most"),
    Target("p95_page_ms", "p95 response time, pages (worst)", 500, "below", " ms"),
    Target("p95_api_ms", "p95 response time, APIs (worst)", 300, "below", " ms"),
    Target("error_rate_percent", "error rate (worst)", 1, "below", "%"),
    Target("uptime_percent", "uptime", 99.9, "above", "%"),
)


@dataclass(frozen=True)
class ChecklistItem:
    """An item of one of the seed's three checklists, and what proves it: a task's result (``proof`` names
    the evidence function in evidence.py) or a person's answer on the post-release review form."""

    checklist: str  # pre-release, deployment, post-release
    item: str
    proof: str  # an evidence.PROOFS key, or "person" (the review form)


CHECKLISTS: tuple[ChecklistItem, ...] = (
    ChecklistItem("pre-release", "All tests passing", "tests"),
    ChecklistItem("pre-release", "Code review completed", "person"),
    ChecklistItem("pre-release", "Security scan passed", "scan"),
    ChecklistItem("pre-release", "Performance benchmarks met", "staging_figures"),
    ChecklistItem("pre-release", "Documentation updated", "person"),
    ChecklistItem("pre-release", "Release notes prepared", "notes"),
    ChecklistItem("pre-release", "Backup created", "backup"),
    ChecklistItem("pre-release", "Rollback plan confirmed", "rollback_plan"),
    ChecklistItem("deployment", "Staging deployment successful", "staging_switch"),
    ChecklistItem("deployment", "Staging tests passing", "staging_verified"),
    ChecklistItem("deployment", "UAT completed", "uat_verified"),
    ChecklistItem("deployment", "UAT sign-off received", "signoff"),
    ChecklistItem("deployment", "Production deployment successful", "production_switch"),
    ChecklistItem("deployment", "Post-deployment verification passed", "production_verified"),
    ChecklistItem("deployment", "Monitoring configured", "watch"),
    ChecklistItem("deployment", "Alerts configured", "alerts"),
    ChecklistItem("post-release", "System health verified", "production_verified"),
    ChecklistItem("post-release", "Performance metrics checked", "production_figures"),
    ChecklistItem("post-release", "Error rates monitored", "watch"),
    ChecklistItem("post-release", "User feedback collected", "person"),
    ChecklistItem("post-release", "Release notes published", "changelog"),
    ChecklistItem("post-release", "Team notified", "team_notified"),
    ChecklistItem("post-release", "Stakeholders updated", "stakeholders_notified"),
    ChecklistItem("post-release", "Lessons learned documented", "person"),
)
