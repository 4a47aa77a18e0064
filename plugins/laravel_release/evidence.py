"""What the run history proves: the DORA metrics, the seed's targets, checklists and the audit trail. Pure.

Input: runs as ``history.collect`` reads them from Airflow's REST API (the only
source of truth), one dict per DAG run: ``dag_id``, ``run_id``, ``run_type``,
``state``, ``triggered_by``, ``note``, ``conf``, ``start``, ``end`` (ISO times),
``tasks`` ({task: state}), ``xcom`` ({task: value}), ``hitl`` ({task: answer}),
``review`` (the post-release review form's answer, or None).

The four keys follow the DORA team's Four Keys project, with these differences:
a deployment is a release run that switched production (not any push to a
deploy branch); a change fails when its own verification or watch rolls it
back or its production stage fails (Four Keys links incidents to deployments);
restore time runs from the failure's detection (a trigger tripping, or the
start of a rollback run) to the good release verified (Four Keys: incident
opened to closed); lead time runs from each commit of the release to production
verified, as in Four Keys, taken from the build's git log.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from laravel_release import policy, verify

RELEASE_DAGS = tuple(t.dag_id for t in policy.RELEASE_TYPES.values())
ROLLBACK_DAG = "rollback"


def parse_time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


@dataclass
class Change:
    """One production change: a release that reached production, or a rollback of production."""

    dag_id: str
    run_id: str
    kind: str  # release or rollback
    release_type: str
    version: str  # what production serves after it (for a failure: what it tried)
    replaced: str  # what production served before
    triggered_by: str  # who: an Airflow user (UI or an API token) or "schedule"
    trigger: str  # how: manual (UI, CLI or REST) or scheduled
    note: str
    approved_by: str
    approved_at: datetime | None
    window_override: str
    started: datetime | None
    finished: datetime | None
    verified: datetime | None  # production verified (releases that succeeded)
    outcome: str  # success, rolled_back, failed, running
    hosts: list[str]
    commit_times: list[datetime] = field(default_factory=list)
    p95_ms: float | None = None
    error_rate_percent: float | None = None
    p95_page_ms: float | None = None  # pages and APIs apart (runs before the split: None)
    p95_api_ms: float | None = None
    coverage_percent: float | None = None
    critical_vulnerabilities: int | None = None
    detected: datetime | None = None  # a failure's detection
    restored: datetime | None = None  # the good release verified again
    reason: str = ""
    missing: list[str] = field(default_factory=list)  # data the run should have and has not: flagged
    quality: str = ""  # thresholds other than the policy's, and gates waived for this run (who, why)
    post_mortem: dict[str, Any] | None = None  # the post_mortem form's answer (who, when, its fields)

    @property
    def failed(self) -> bool:
        return self.outcome in ("rolled_back", "failed")

    @property
    def figures(self) -> dict[str, float | None]:
        """The figures of the seed's release targets; a run from before pages and APIs were apart
        counts its worst p95 for both."""
        return {
            "p95_page_ms": self.p95_page_ms if self.p95_page_ms is not None else self.p95_ms,
            "p95_api_ms": self.p95_api_ms if self.p95_api_ms is not None else self.p95_ms,
            "error_rate_percent": self.error_rate_percent,
        }

    @property
    def performance(self) -> str:
        """The seed's performance targets for this release: met, missed (which), or not measured."""
        if self.p95_ms is None:
            return "not measured"
        missed = verify.targets_missed(self.figures)
        return "missed: " + "; ".join(missed) if missed else "met"


def _state(run: dict[str, Any], task: str) -> str | None:
    """A task's state; for a mapped task, "success" when every host succeeded, else the worst."""
    states = [s for t, s in run["tasks"].items() if t == task or t.startswith(task + "[")]
    if not states:
        return None
    for worst in ("failed", "upstream_failed", "running", "skipped"):
        if worst in states:
            return worst
    return states[0]


def _figures(verified: Any) -> tuple[float | None, float | None, list[str]]:
    """p95 (ms, the worst host) and error rate from a release_verified XCom, and its hosts."""
    if not isinstance(verified, list) or not verified:
        return None, None, []
    p95 = [v["p95_seconds"] * 1000 for v in verified if v.get("p95_seconds") is not None]
    errors = [v["error_rate_percent"] for v in verified if v.get("error_rate_percent") is not None]
    return (max(p95) if p95 else None, max(errors) if errors else None, sorted(v["host"] for v in verified))


def release_change(run: dict[str, Any], env: str = "production") -> Change | None:
    """The change a release run made to ``env``, None when it never reached it."""
    tasks, xcom = run["tasks"], run["xcom"]
    switch = _state(run, f"{env}.switch_release")
    if switch in (None, "skipped", "upstream_failed", "removed"):
        return None
    plan = xcom.get("plan_release") or {}
    missing = []
    if not plan:
        missing.append("plan_release (version, what it replaced)")
    verified_state = tasks.get(f"{env}.release_verified")
    # switch_back verifies every host; runs from before that had a verify_rollback task of their own
    verified_back = _state(run, f"{env}.rollback.verify_rollback") or _state(run, f"{env}.rollback.switch_back")
    rolled_back = verified_back == "success"
    if verified_state == "success":
        outcome = "success"
    elif rolled_back:
        outcome = "rolled_back"
    elif run["state"] in ("running", "queued"):
        outcome = "running"
    else:
        outcome = "failed"
    build: dict[str, Any] = next((r for r in xcom.get("build_release") or [] if r.get("verb") == "build"), {})
    commit_times = [parse_time(int(t)) for t in str(build.get("commit_times", "")).split() if t.isdigit()]
    if outcome == "success" and "commit_times" not in build:  # "": a rebuild of a live version, no new commit
        missing.append("build_release commit times (lead time)")
    verified_hosts = xcom.get(f"{env}.release_verified")
    p95, errors, hosts = _figures(verified_hosts)
    apart = verify.release_figures(verified_hosts if isinstance(verified_hosts, list) else [])
    if outcome == "success" and p95 is None:
        missing.append(f"{env}.release_verified figures (p95, error rate)")
    finished = parse_time(run.get("end"))
    ended = run.get("ended", {})
    verified = parse_time(ended.get(f"{env}.release_verified")) if outcome == "success" else None
    approval = run.get("hitl", {}).get("approve_production") or {}
    external = xcom.get("external_signoff") or {}
    approved_by = approval.get("responded_by") or external.get("by") or ""
    if not approved_by and str(external.get("decision", "")).startswith("approved"):
        approved_by = "the approval service"
    approved_at = parse_time(approval.get("responded_at") or external.get("at"))
    rtype = plan.get("release_type") or run["dag_id"].removeprefix("release_")
    if policy.RELEASE_TYPES.get(rtype) and policy.RELEASE_TYPES[rtype].uat_signoff and not approved_by:
        missing.append("UAT sign-off (who approved)")
    record = xcom.get(f"{env}.rollback.record_rollback") or {}
    verdict = xcom.get(f"{env}.watch_release") or {}
    detected = parse_time(verdict.get("at")) or parse_time(record.get("started"))
    restored = parse_time(record["started"] + record["seconds"]) if record.get("started") else None
    if rolled_back and not record:
        missing.append(f"{env}.rollback.record_rollback (restore time)")
    coverage = xcom.get("check_coverage")
    scan: dict[str, Any] = next((r for r in xcom.get("scan_release") or [] if "critical" in r), {})
    window = xcom.get("wait_for_window") or {}
    return Change(
        dag_id=run["dag_id"],
        run_id=run["run_id"],
        kind="release",
        release_type=rtype,
        version=plan.get("version") or run.get("conf", {}).get("version") or "?",
        replaced=plan.get("since") or "",
        triggered_by=run.get("triggered_by") or ("schedule" if run.get("run_type") == "scheduled" else "?"),
        trigger=run.get("run_type") or "?",
        note=run.get("note") or "",
        approved_by=approved_by,
        approved_at=approved_at,
        window_override=window.get("override_reason") or run.get("conf", {}).get("window_override") or "",
        started=parse_time(run.get("start")),
        finished=finished,
        verified=verified,
        outcome=outcome,
        hosts=hosts or sorted({t.split("[")[1].rstrip("]") for t in tasks if t.startswith(f"{env}.switch_release[")}),
        commit_times=[t for t in commit_times if t],
        p95_ms=p95,
        error_rate_percent=errors,
        p95_page_ms=apart["p95_page_ms"],
        p95_api_ms=apart["p95_api_ms"],
        coverage_percent=float(coverage) if isinstance(coverage, int | float) else None,
        critical_vulnerabilities=int(scan["critical"]) if "critical" in scan else None,
        detected=detected if outcome == "rolled_back" else None,
        restored=restored,
        reason=(record.get("reason", "") or verdict.get("text", "").split("\n")[0]) if outcome == "rolled_back" else "",
        missing=missing,
        quality=quality_exceptions(plan.get("quality") or {}),
        post_mortem=run.get("post_mortem"),
    )


def rollback_change(run: dict[str, Any], env: str = "production") -> Change | None:
    """A rollback run of ``env`` (by hand or from CI)."""
    xcom = run["xcom"]
    request = xcom.get("plan_rollback") or run.get("conf") or {}
    if request.get("environment", "production") != env:
        return None
    if _state(run, "rollback.switch_back") in (None, "skipped", "upstream_failed"):
        return None  # refused before it changed anything
    record = xcom.get("rollback.record_rollback") or {}
    decided = (xcom.get("rollback.decide_rollback") or [{}])[0].get("decision", {})
    outcome = (
        "success"
        if run["tasks"].get("rollback.record_rollback") == "success"
        else ("running" if run["state"] == "running" else "failed")
    )
    missing = [] if record or outcome != "success" else ["rollback.record_rollback (restore time)"]
    return Change(
        dag_id=run["dag_id"],
        run_id=run["run_id"],
        kind="rollback",
        release_type="rollback",
        version=decided.get("version") or record.get("version") or "?",
        replaced=decided.get("from") or "",
        triggered_by=run.get("triggered_by") or "?",
        trigger=run.get("run_type") or "?",
        note=run.get("note") or "",
        approved_by="",
        approved_at=None,
        window_override="",
        started=parse_time(run.get("start")),
        finished=parse_time(run.get("end")),
        verified=None,
        outcome=outcome,
        hosts=record.get("hosts") or [],
        detected=parse_time(run.get("start")),
        restored=parse_time(decided["started"] + record["seconds"]) if record and decided.get("started") else None,
        reason=request.get("reason", ""),
        missing=missing,
        post_mortem=run.get("post_mortem"),
    )


# the moments of a run a post-mortem's timeline shows: (task, what its end means when it succeeded)
TIMELINE = (
    ("plan_release", "planned"),
    ("plan_rollback", "rollback requested"),
    ("build_release", "built"),
    *(
        (f"{env}.{task}", f"{env}: {words}")
        for env in ("staging", "uat", "production")
        for task, words in (
            ("switch_release", "switched to the release"),
            ("release_verified", "verified"),
            ("watch_release", "judged"),
        )
    ),
    ("approve_production", "UAT sign-off answered"),
    *(
        (f"{group}rollback.{task}", f"{group.rstrip('.') or 'rollback'}: {words}")
        for group in ("", "staging.", "uat.", "production.")
        for task, words in (
            ("decide_rollback", "rollback decided"),
            ("choose_rollback", "a person chose how to roll back"),
            ("approve_restore", "restore answered"),
            ("switch_back", "switched back and verified"),
            # the steps of runs from before switch_back did the database step and the verification too
            ("rollback_database", "database step done"),
            ("verify_rollback", "rollback verified"),
            ("record_rollback", "rollback recorded"),
        )
    ),
    ("finish_release", "finished"),
)


def timeline(run: dict[str, Any]) -> list[str]:
    """A run's timeline for its post-mortem: who started it, each step that matters with its outcome and
    time (UTC), what tripped, and how the run ended; in the order things happened."""
    events: list[tuple[datetime, str]] = []
    start = parse_time(run.get("start"))
    if start:
        who = run.get("triggered_by") or "?"
        events.append(
            (start, f"started by {who} ({run.get('run_type') or '?'}){': ' + run['note'] if run.get('note') else ''}")
        )
    ended = run.get("ended", {})
    for task, words in TIMELINE:
        for key, state in run["tasks"].items():
            if (key == task or key.startswith(task + "[")) and ended.get(key) and state in ("success", "failed"):
                host = key[len(task) + 1 : -1] if "[" in key[len(task) :] else ""
                said = words if state == "success" else f"{task} {state}"
                events.append(
                    (parse_time(ended[key]) or datetime.min.replace(tzinfo=UTC), said + (f" ({host})" if host else ""))
                )
    for env in ("staging", "uat", "production"):
        verdict = run["xcom"].get(f"{env}.watch_release") or {}
        if verdict and not verdict.get("healthy", False):
            when = parse_time(verdict.get("at"))
            if when:
                events.append((when, f"{env}: {str(verdict.get('text', 'a trigger tripped')).splitlines()[0]}"))
    end = parse_time(run.get("end"))
    if end:
        events.append((end, f"run ended: {run.get('state')}"))
    events.sort(key=lambda e: e[0])
    return [f"{when:%Y-%m-%d %H:%M:%S} {what}" for when, what in events]


WAITING = ("awaiting_input", "deferred", "up_for_reschedule", "running", "queued", "scheduled")


def progress(runs: list[dict[str, Any]], now: datetime, hours: float = 24) -> list[str]:
    """The day's progress for stakeholders: each release that ended in the last ``hours`` (live, rolled
    back, failed, stopped) and each one still running (and what it waits for). [] when there is nothing."""
    lines = []
    since = now - timedelta(hours=hours)
    for run in sorted(runs, key=lambda r: r.get("start") or ""):
        if run["dag_id"] not in RELEASE_DAGS:
            continue
        plan = run["xcom"].get("plan_release") or {}
        version = plan.get("version") or run.get("conf", {}).get("version") or "?"
        what = f"{run['dag_id'].removeprefix('release_')} release {version}"
        end = parse_time(run.get("end"))
        if run["state"] in ("running", "queued"):
            waiting = sorted(t for t, state in run["tasks"].items() if state in WAITING)
            lines.append(f"{what}: in progress" + (f", at {', '.join(waiting[:3])}" if waiting else ""))
        elif end and end >= since:
            change = release_change(run)
            if change and change.outcome == "success":
                lines.append(f"{what}: live in production since {end:%a %H:%M} UTC")
            elif change and change.outcome == "rolled_back":
                lines.append(f"{what}: rolled back in production ({change.reason or 'a rollback trigger tripped'})")
            else:
                stopped = [t for t, state in run["tasks"].items() if state == "failed"]
                lines.append(
                    f"{what}: stopped before production going live ({', '.join(sorted(stopped)[:3]) or run['state']})"
                )
    return lines


def quality_exceptions(quality: dict[str, Any]) -> str:
    """What a release was held to that is not the policy, in words: changed thresholds and a waiver."""
    words = list(quality.get("changed") or [])
    waiver = quality.get("waiver") or {}
    if waiver:
        words.append(f"waived {', '.join(waiver['gates'])} by {waiver.get('by') or '?'}: {waiver.get('reason')}")
    return "; ".join(words)


def changes(runs: Iterable[dict[str, Any]], env: str = "production") -> list[Change]:
    """Every change to ``env`` in the runs, oldest first."""
    found = []
    for run in runs:
        make = release_change if run["dag_id"] in RELEASE_DAGS else rollback_change
        change = make(run, env) if run["dag_id"] in (*RELEASE_DAGS, ROLLBACK_DAG) else None
        if change:
            found.append(change)
    return sorted(found, key=lambda c: c.started or datetime.min.replace(tzinfo=UTC))


# ── the four keys and the seed's targets ───────────────────────────────────


@dataclass
class Metrics:
    weeks: float
    deployments: int  # release changes to production (any outcome but running)
    failures: int
    deployment_frequency: float | None  # successful deployments per week
    lead_time_hours: float | None
    change_failure_rate: float | None  # percent
    time_to_restore_hours: float | None
    restores: int
    flagged: list[str]  # runs with missing data: counted, and named here
    figures: dict[str, float | None] = field(default_factory=dict)  # the other KPIs


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def dora(found: list[Change], now: datetime, weeks: float) -> Metrics:
    since = now - timedelta(weeks=weeks)
    window = [c for c in found if c.started and c.started >= since and c.outcome != "running"]
    releases = [c for c in window if c.kind == "release"]
    good = [c for c in releases if c.outcome == "success"]
    failed = [c for c in releases if c.failed]
    lead = [_hours(c.verified - t) for c in good if c.verified for t in c.commit_times]
    restores = [
        _hours(c.restored - c.detected)
        for c in window
        if c.detected and c.restored and (c.kind == "rollback" or c.outcome == "rolled_back")
    ]
    flagged = [f"{c.dag_id} {c.run_id}: missing {', '.join(c.missing)}" for c in window if c.missing]
    pages = [c.figures["p95_page_ms"] for c in good if c.figures["p95_page_ms"] is not None]
    apis = [c.figures["p95_api_ms"] for c in good if c.figures["p95_api_ms"] is not None]
    errors = [c.error_rate_percent for c in good if c.error_rate_percent is not None]
    coverage = [c.coverage_percent for c in releases if c.coverage_percent is not None]
    critical = [c.critical_vulnerabilities for c in releases if c.critical_vulnerabilities is not None]
    return Metrics(
        weeks=weeks,
        deployments=len(releases),
        failures=len(failed),
        deployment_frequency=len(good) / weeks if weeks else None,
        lead_time_hours=_median(lead),
        change_failure_rate=100.0 * len(failed) / len(releases) if releases else None,
        time_to_restore_hours=_median(restores),
        restores=len(restores),
        flagged=flagged,
        figures={
            "coverage_percent": min(coverage) if coverage else None,
            "critical_vulnerabilities": max(critical) if critical else None,
            "p95_page_ms": max(pages) if pages else None,
            "p95_api_ms": max(apis) if apis else None,
            "error_rate_percent": max(errors) if errors else None,
            "uptime_percent": None,  # needs an external uptime monitor: not measured by releases
        },
    )


@dataclass(frozen=True)
class Scored:
    target: policy.Target
    value: float | None
    met: bool | None  # None: nothing to judge yet


def score(m: Metrics) -> list[Scored]:
    values = {
        "deployment_frequency": m.deployment_frequency,
        "lead_time_hours": m.lead_time_hours,
        "change_failure_rate": m.change_failure_rate,
        "time_to_restore_hours": m.time_to_restore_hours,
        **m.figures,
    }
    return [Scored(t, values.get(t.name), t.met(values.get(t.name))) for t in policy.TARGETS]


def per_week(found: list[Change], now: datetime, weeks: int) -> list[dict[str, Any]]:
    """Deployments and failures per ISO week, oldest first (empty weeks included)."""
    start = (now - timedelta(weeks=weeks - 1)).date()
    start -= timedelta(days=start.weekday())
    rows = []
    for i in range(weeks):
        monday = start + timedelta(weeks=i)
        in_week = [
            c
            for c in found
            if c.kind == "release" and c.started and monday <= c.started.date() < monday + timedelta(weeks=1)
        ]
        done = [c for c in in_week if c.outcome != "running"]
        failed = [c for c in done if c.failed]
        rows.append(
            {
                "week": f"{monday:%G-W%V}",
                "deployments": len([c for c in done if c.outcome == "success"]),
                "failures": len(failed),
                "failure_rate": 100.0 * len(failed) / len(done) if done else None,
            }
        )
    return rows


# ── checklists ──────────────────────────────────────────────────────────────


@dataclass(frozen=True)
class Checked:
    checklist: str
    item: str
    status: str  # done, failed, pending (a person has not answered yet), n/a
    proof: str  # what proves it, in words: the task and its figure, or who confirmed it and when


def _task_proof(task: str, ok_words: Callable[[Any], str]) -> Callable[[dict[str, Any]], tuple[str, str]]:
    def prove(run: dict[str, Any]) -> tuple[str, str]:
        state = _state(run, task)
        if state is None:
            return "n/a", f"{task} is not part of this release type"
        if state == "success":
            return "done", f"{task}: {ok_words(run['xcom'].get(task))}"
        if state in ("skipped", "upstream_failed"):
            return "n/a", f"{task} did not run ({state})"
        return ("failed" if state == "failed" else "pending"), f"{task}: {state}"

    return prove


def _first_line(value: Any) -> str:
    return str(value or "").strip().splitlines()[0] if str(value or "").strip() else "recorded"


def _verified_words(value: Any) -> str:
    p95, errors, hosts = _figures(value)
    if p95 is None:
        return "verified"
    return f"health, version and smoke tests on {', '.join(hosts)}; p95 {p95:.0f} ms, {errors:g}% errors"


def _target_words(value: Any) -> str:
    """The verified figures and the seed's performance targets, met or missed."""
    words = _verified_words(value)
    if not isinstance(value, list) or not value or all(v.get("p95_page_seconds") is None for v in value):
        return words
    missed = verify.targets_missed(verify.release_figures(value))
    return f"{words}; performance targets " + ("missed: " + "; ".join(missed) if missed else "met")


def _backup_words(value: Any) -> str:
    result: dict[str, Any] = next((r for r in value or [] if r.get("sha256")), {})
    return f"backup sha256 {result['sha256'][:16]}…" if result else "backup taken"


def _scan_words(value: Any) -> str:
    result: dict[str, Any] = next((r for r in value or [] if "critical" in r), {})
    words = f"{result.get('critical', '?')} critical, {result.get('high', '?')} high findings"
    advised = str(result.get("advisories") or "")
    return words + ("; the advisory database could not be reached" if advised.startswith("unreachable") else "")


def _signoff(run: dict[str, Any]) -> tuple[str, str]:
    approval = run.get("hitl", {}).get("approve_production")
    external = run["xcom"].get("external_signoff")
    if approval and approval.get("responded_by"):
        return "done", f"approved by {approval['responded_by']} at {approval.get('responded_at', '?')}"
    if external and external.get("by"):
        return "done", f"approved by {external['by']} through the approval service"
    if _state(run, "uat_signed_off") is None:
        return "n/a", "this release type has no UAT sign-off"
    return "pending", "no sign-off recorded"


def _announced(kind: str) -> Callable[[dict[str, Any]], tuple[str, str]]:
    def prove(run: dict[str, Any]) -> tuple[str, str]:
        sent = run["xcom"].get("production.announce_finished") or {}
        channel = "slack" if kind == "team" else "email"
        if sent.get(channel) == "sent":
            return "done", f"production.announce_finished: {channel} sent"
        return (
            "failed" if sent.get(channel) == "failed" else "n/a"
        ), f"{channel}: {sent.get(channel, 'not configured')}"

    return prove


def _published(run: dict[str, Any]) -> tuple[str, str]:
    """Release notes published: the CHANGELOG entry and the notes written (and posted, when configured),
    and the notes sent with the success announcement."""
    state = _state(run, "publish_release_notes")
    if state is None:  # a run from before notes were published: the entry was prepared
        return _task_proof("write_changelog", _first_line)(run)
    if state != "success":
        return ("failed" if state == "failed" else "pending"), f"publish_release_notes: {state}"
    done = run["xcom"].get("publish_release_notes") or {}
    sent = run["xcom"].get("production.announce_finished") or {}
    channels = [c for c in ("slack", "email") if sent.get(c) == "sent"]
    proof = f"{done.get('changelog')} and {done.get('notes')}; posted: {done.get('posted')}; " + (
        f"{sent.get('notes', 0)} change(s) sent with the success announcement ({', '.join(channels)})"
        if channels
        else "no announcement channel sent them"
    )
    failed = str(done.get("posted", "")).startswith("failed") or any(
        sent.get(c) == "failed" for c in ("slack", "email")
    )
    return ("failed" if failed else "done"), proof


def _rollback_plan(run: dict[str, Any]) -> tuple[str, str]:
    """Proven by the rehearsal on staging: back to the previous release and forward again, both verified."""
    state = _state(run, "staging.rehearse_rollback")
    rehearsal = run["xcom"].get("staging.rehearse_rollback") or {}
    if state == "success" and rehearsal.get("rehearsed"):
        undone = rehearsal.get("migrations_undone") or []
        return "done", (
            f"staging.rehearse_rollback: back to {rehearsal.get('to_version')} in {rehearsal.get('back_seconds')} s"
            + (f" (undoing {len(undone)} migration(s))" if undone else "")
            + f" and forward in {rehearsal.get('forward_seconds')} s, verified both ways"
        )
    if state == "success":
        return "n/a", f"staging.rehearse_rollback: nothing to rehearse ({rehearsal.get('why', 'first release')})"
    if state is None:  # a run from before the rehearsal existed: the plan named the target
        plan = run["xcom"].get("plan_release") or {}
        if not plan:
            return "pending", "no plan recorded"
        return "done", f"rollback target: {plan.get('since') or 'none (first release)'}, kept on every host"
    return ("failed" if state == "failed" else "pending"), f"staging.rehearse_rollback: {state}"


PROOFS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {
    "tests": _task_proof("check_tests", _first_line),
    "scan": _task_proof("scan_release", _scan_words),
    "staging_figures": _task_proof("staging.release_verified", _verified_words),
    "notes": _task_proof("write_release_notes", _first_line),
    "backup": _task_proof("production.backup_database", _backup_words),
    "rollback_plan": _rollback_plan,
    "staging_switch": _task_proof("staging.switch_release", lambda _: "switched on every host"),
    "staging_verified": _task_proof("staging.release_verified", _verified_words),
    "uat_verified": _task_proof("uat.release_verified", _verified_words),
    "signoff": _signoff,
    "production_switch": _task_proof("production.switch_release", lambda _: "switched on every host"),
    "production_verified": _task_proof("production.release_verified", _verified_words),
    "production_figures": _task_proof("production.release_verified", _target_words),
    "watch": _task_proof("production.watch_release", lambda v: "watched; no rollback trigger tripped"),
    "alerts": _announced("team"),
    "changelog": _published,
    "team_notified": _announced("team"),
    "stakeholders_notified": _announced("stakeholders"),
}

REVIEW_FIELDS = {  # the review form's field for each item only a person can confirm
    "Code review completed": "code_review_completed",
    "Documentation updated": "documentation_updated",
    "User feedback collected": "user_feedback_collected",
    "Lessons learned documented": "lessons_learned",
}


def checklist(run: dict[str, Any]) -> list[Checked]:
    """The seed's three checklists for one release run, each item with its proof."""
    review = run.get("review") or {}
    answers = review.get("params_input") or {}
    out = []
    for item in policy.CHECKLISTS:
        if item.proof == "person":
            value = answers.get(REVIEW_FIELDS[item.item])
            if not review:
                status, proof = "pending", "waits for the post-release review form (DAG release_review)"
            elif value:
                who = f"{review.get('responded_by', '?')} at {review.get('responded_at', '?')}"
                detail = f": {value}" if isinstance(value, str) else ""
                status, proof = "done", f"confirmed by {who}{detail}"
            else:
                status, proof = "failed", f"not confirmed on the review form by {review.get('responded_by', '?')}"
        else:
            status, proof = PROOFS[item.proof](run)
        out.append(Checked(item.checklist, item.item, status, proof))
    return out
