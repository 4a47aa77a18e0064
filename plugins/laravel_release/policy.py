"""The release policy: one table, one row per release type.

Everything that differs between a hotfix, a feature, a maintenance and a major
release is data in this table; ``dag_factory.release_dag`` turns a row into a
DAG. A new release type is one new row here and one thin file in ``dags/``.
"""

from __future__ import annotations

from dataclasses import dataclass

# A version is an annotated git tag such as v1.4.0 or v2.0.0-rc.1.
VERSION_PATTERN = r"^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.]+)?$"


@dataclass(frozen=True)
class Window:
    """When production may change: ISO weekdays (Monday = 1), a UTC start time and a length."""

    weekdays: tuple[int, ...]
    start: str
    hours: float


@dataclass(frozen=True)
class ReleaseType:
    name: str
    summary: str
    stages: tuple[str, ...]  # environments in order; production always last
    uat_signoff: bool  # production waits for a person to approve in UAT
    requires_reason: bool  # the trigger must say why (hotfix: which critical issue)
    window: Window | None  # None: any time
    signoff_timeout_hours: float = 72.0

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
        ),
    )
}


def release_type(name: str) -> ReleaseType:
    try:
        return RELEASE_TYPES[name]
    except KeyError:
        raise KeyError(f"unknown release type {name!r}; the policy defines {', '.join(RELEASE_TYPES)}") from None
