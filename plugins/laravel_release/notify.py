"""Slack, e-mail and status page: what the seed's communication plan says, when, to whom.

Messages are built by pure functions (one per moment: pre-release, started,
finished, incident, escalated, resolved) and delivered through the providers'
notifiers (``SlackWebhookNotifier`` or ``SlackNotifier``, ``SmtpNotifier``) and
Atlassian Statuspage's REST API v1 (``HttpHook``). Delivery never raises: each
channel is tried ``notifications.attempts`` times, and what failed is logged and
returned, so a notification can never fail or hold up a release.

The escalation matrix (levels 1 to 5) is data in the environment file: level 1
hears of an incident at once, each next level once the incident has stayed
unresolved for its ``after_minutes``; resolution stops it (see steps.escalate).
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from laravel_release import config, policy

log = logging.getLogger(__name__)

CHANNELS = ("slack", "email", "statuspage")
RETRY_SECONDS = 1.0  # doubled after each failed attempt


@dataclass(frozen=True)
class Message:
    kind: str  # pre_release, started, finished, incident, escalated, resolved
    environment: str
    subject: str  # one line: the e-mail's subject, the Slack message's first line
    lines: tuple[str, ...] = ()
    link: str = ""  # the run in Airflow's UI
    urgent: bool = False  # incidents go to the alerts channel, the rest to the releases channel
    # what the public status page says: (title, body), written for the app's users. It never carries
    # the internal text above (triggers, hosts, reasons); None: nothing goes public
    public: tuple[str, str] | None = None

    def text(self) -> str:
        """Slack's mrkdwn. Our text is escaped: a reason holding <!channel> or a <url|link> shows as typed."""
        body = "\n".join(f"• {slack_escape(line)}" for line in self.lines)
        link = f"\n<{self.link}|Open the run in Airflow>" if self.link else ""
        return f"*{slack_escape(self.subject)}*\n{body}{link}".rstrip()

    def html(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        link = f'<p><a href="{html.escape(self.link)}">Open the run in Airflow</a></p>' if self.link else ""
        return f"<h2>{html.escape(self.subject)}</h2><ul>{items}</ul>{link}"


def slack_escape(text: str) -> str:
    """Slack's three control characters, as its API asks: no mention, link or command can be smuggled in."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_link(dag_id: str, run_id: str, base_url: str | None = None) -> str:
    """The run's page in Airflow's UI (``[api] base_url``)."""
    if base_url is None:
        from airflow.configuration import conf

        base_url = conf.get("api", "base_url", fallback="") or "http://localhost:8080"
    return f"{base_url.rstrip('/')}/dags/{quote(dag_id)}/runs/{quote(run_id, safe='')}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


# ── the messages ────────────────────────────────────────────────────────────


def pre_release(
    app: str,
    rtype: str,
    version: str,
    since: str,
    window: str | None,
    opens: datetime | None,
    override: str | None,
    link: str,
) -> Message:
    """``window`` None: the type has no release window (a hotfix goes once it passed its gates)."""
    if override:
        when, short = f"now, outside its window ({window}): override, because {override}", "now (window override)"
    elif window is None:
        when, short = "as soon as staging is verified (a hotfix has no release window)", "now"
    else:
        when = f"in the release window ({window})" + (f", opening {opens:%a %Y-%m-%d %H:%M} UTC" if opens else "")
        short = "in its window"
    return Message(
        "pre_release",
        "production",
        f"Pre-release: {app} {version} goes to production {short}",
        (
            f"What: {rtype} release {version}, replacing {since or 'nothing (first release)'}",
            f"When: {when}",
            "Passed: the quality gates" + (" and UAT sign-off" if policy.release_type(rtype).uat_signoff else ""),
            "Expect no downtime: the switch is atomic, and the release is rolled back by itself if a trigger trips",
        ),
        link,
        public=(
            f"{app}: scheduled update",
            f"{app} is updated {'now' if override or window is None else 'in this maintenance window'}. "
            "No downtime is expected; should anything go wrong, the previous version is put back within a minute.",
        ),
    )


def started(app: str, rtype: str, environment: str, version: str, since: str, hosts: list[str], link: str) -> Message:
    return Message(
        "started",
        environment,
        f"Release started: {app} {version} to {environment}",
        (
            f"{rtype} release {version}, replacing {since or 'nothing (first release)'}",
            f"Hosts: {', '.join(hosts)}",
        ),
        link,
    )


def finished(
    app: str,
    environment: str,
    version: str,
    outcome: str,
    seconds: float | None,
    hosts: list[str],
    detail: list[str],
    link: str,
) -> Message:
    """``outcome``: success, rolled_back or failed."""
    subject = {
        "success": f"Release finished: {app} {version} is live on {environment}",
        "rolled_back": f"Release rolled back: {app} {version} on {environment}",
        "failed": f"Release failed: {app} {version} on {environment}",
    }[outcome]
    lines = [f"Duration: {_duration(seconds)}", f"Hosts: {', '.join(hosts)}", *detail]
    return Message("finished", environment, subject, tuple(lines), link, urgent=outcome != "success")


def incident(app: str, decision: dict[str, Any], link: str, at: datetime | None = None) -> Message:
    lines = [
        f"What tripped: {line}" for line in (decision.get("trigger_text") or decision["reason"]).splitlines() if line
    ]
    lines += [
        f"Rollback in progress: {decision['from']} -> {decision['to']} ({decision['version']}), "
        f"mode {decision['mode']}",
        "Deployments to " + decision["environment"] + " are frozen until it is resolved",
    ]
    return Message(
        "incident",
        decision["environment"],
        f"INCIDENT {app} {decision['environment']}: rolling back to {decision['version']}",
        tuple(lines),
        link,
        urgent=True,
        public=(
            f"{app}: degraded service",
            f"Since {_clock(at)} some pages of {app} may fail or be slow. We have found the cause and are "
            "putting back the previous version.",
        ),
    )


def escalated(app: str, level: config.Level, decision: dict[str, Any], minutes: float, link: str) -> Message:
    return Message(
        "escalated",
        decision["environment"],
        f"ESCALATION level {level.number} ({level.name}): {app} {decision['environment']} incident unresolved "
        f"for {_duration(minutes * 60)}",
        (
            f"Why: {decision['reason']}",
            f"Rollback {decision['from']} -> {decision['to']} ({decision['version']}) has not brought "
            f"{decision['environment']} back yet; the environment stays frozen",
            "Resolve: fix and verify by hand, then lift the freeze (DAG deployment_freeze, action clear)",
        ),
        link,
        urgent=True,
    )


def _clock(at: datetime | None) -> str:
    return f"{(at or datetime.now(UTC)).astimezone(UTC):%H:%M} UTC"


def restored(app: str, at: datetime | None) -> tuple[str, str]:
    """The status page's closing words: the same whoever resolved the incident."""
    return f"{app}: service restored", f"{app} works normally again since {_clock(at)}. We are sorry for the trouble."


def resolved(
    app: str, decision: dict[str, Any], seconds: float, hosts: list[str], link: str, at: datetime | None = None
) -> Message:
    return Message(
        "resolved",
        decision["environment"],
        f"RESOLVED {app} {decision['environment']}: back on {decision['version']}",
        (
            f"Rolled back from {decision['from']} to {decision['to']} on {', '.join(hosts)} in {_duration(seconds)}",
            f"Cause: {decision['reason']}",
            "Verified (health, version, smoke tests); the freeze is lifted",
        ),
        link,
        urgent=True,
        public=restored(app, at),
    )


def closed(app: str, decision: dict[str, Any], minutes: float, link: str, at: datetime | None = None) -> Message:
    """An incident the rollback did not resolve, resolved by hand (the freeze lifted) while it escalated."""
    return Message(
        "resolved",
        decision["environment"],
        f"RESOLVED {app} {decision['environment']}: the incident is closed after {_duration(minutes * 60)}",
        (
            f"The freeze set by the rollback of {decision['from']} was lifted: deployments may go on",
            f"Cause: {decision['reason']}",
            "The escalation stops here",
        ),
        link,
        urgent=True,
        public=restored(app, at),
    )


# ── the escalation matrix ──────────────────────────────────────────────────


def due_levels(levels: tuple[config.Level, ...], minutes: float, notified: int) -> list[config.Level]:
    """The levels an incident unresolved for ``minutes`` has reached beyond the ``notified`` first ones."""
    return [lv for lv in levels if lv.number > notified and minutes >= lv.after_minutes]


def next_level_at(levels: tuple[config.Level, ...], started: float, notified: int) -> float | None:
    """When (epoch seconds) the next level is due, None when every level has heard."""
    later = [lv for lv in levels if lv.number > notified]
    return started + later[0].after_minutes * 60 if later else None


# ── delivery ────────────────────────────────────────────────────────────────


@dataclass
class Recipients:
    """Beyond the channels' defaults: Slack channels or people (@name), e-mail addresses."""

    slack: list[str] = field(default_factory=list)
    email: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, levels: list[config.Level] | tuple[config.Level, ...]) -> Recipients:
        """Everyone of these levels of the matrix."""
        return cls(
            slack=list(dict.fromkeys(r for lv in levels for r in lv.slack)),
            email=list(dict.fromkeys(r for lv in levels for r in lv.email)),
        )


def _slack(cfg: config.Notifications, message: Message, recipients: Recipients, context: Any) -> None:
    from airflow.sdk import BaseHook

    conn_type = BaseHook.get_connection(cfg.slack_conn_id).conn_type
    channel = cfg.alerts_channel if message.urgent else cfg.releases_channel
    if conn_type == "slackwebhook":  # the webhook posts where it was made for: name who must look
        mention = " ".join(r for r in recipients.slack if r.startswith("@"))
        from airflow.providers.slack.notifications.slack_webhook import SlackWebhookNotifier

        text = message.text() + (f"\ncc {mention}" if mention else "")
        SlackWebhookNotifier(slack_webhook_conn_id=cfg.slack_conn_id, text=text).notify(context)
        return
    from airflow.providers.slack.notifications.slack import SlackNotifier

    for target in dict.fromkeys([channel, *recipients.slack]):
        SlackNotifier(slack_conn_id=cfg.slack_conn_id, channel=target, text=message.text(), username="Release").notify(
            context
        )


def _email(cfg: config.Notifications, message: Message, to: list[str], context: Any) -> None:
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    SmtpNotifier(
        to=to,
        from_email=cfg.email_from,
        subject=message.subject,
        html_content=message.html(),
        smtp_conn_id=cfg.email_conn_id,
    ).notify(context)


STATUSPAGE_IMPACT = {"incident": "major", "escalated": "major"}


def statuspage_request(
    cfg: config.Notifications, message: Message, incident_id: str, window: tuple[datetime, datetime] | None = None
) -> tuple[str, str, dict[str, Any]] | None:
    """The Statuspage API v1 call for a message: (method, endpoint, JSON body), None when it has none.

    Pre-release: a scheduled maintenance for the window (started and completed by Statuspage itself).
    Incident: an incident, "identified", the component degraded. Resolved: the incident resolved, the
    component operational. Only production is on the public page, and only a message's public words.
    """
    if message.environment != "production" or message.public is None:
        return None
    page, component = cfg.statuspage_page_id, cfg.statuspage_component_id
    name, body = message.public
    if message.kind == "pre_release" and window:
        return (
            "POST",
            f"/v1/pages/{page}/incidents",
            {
                "incident": {
                    "name": name,
                    "status": "scheduled",
                    "scheduled_for": window[0].astimezone(UTC).isoformat(),
                    "scheduled_until": window[1].astimezone(UTC).isoformat(),
                    "scheduled_auto_in_progress": True,
                    "scheduled_auto_completed": True,
                    "body": body,
                    "component_ids": [component],
                }
            },
        )
    if message.kind == "incident":
        return (
            "POST",
            f"/v1/pages/{page}/incidents",
            {
                "incident": {
                    "name": name,
                    "status": "identified",
                    "impact_override": "major",
                    "body": body,
                    "component_ids": [component],
                    "components": {component: "degraded_performance"},
                }
            },
        )
    if message.kind == "resolved" and incident_id:
        return (
            "PATCH",
            f"/v1/pages/{page}/incidents/{incident_id}",
            {"incident": {"status": "resolved", "body": body, "components": {component: "operational"}}},
        )
    return None


def _statuspage(cfg: config.Notifications, request: tuple[str, str, dict[str, Any]]) -> str:
    from airflow.providers.http.hooks.http import HttpHook
    from airflow.sdk import BaseHook

    method, endpoint, body = request
    key = BaseHook.get_connection(cfg.statuspage_conn_id).password or ""
    response = HttpHook(method=method, http_conn_id=cfg.statuspage_conn_id).run(
        endpoint, json=body, headers={"Authorization": f"OAuth {key}"}, extra_options={"timeout": 15}
    )
    return str(response.json().get("id", ""))


def _attempt(what: str, attempts: int, send: Callable[[], Any]) -> tuple[bool, Any]:
    delay = RETRY_SECONDS
    for attempt in range(1, attempts + 1):
        try:
            return True, send()
        except Exception as err:  # noqa: BLE001 (any failure of a channel is logged, never raised)
            log.warning("notification %s: attempt %d of %d failed: %s", what, attempt, attempts, err)
            if attempt < attempts:
                time.sleep(delay)
                delay *= 2
    return False, None


def deliver(
    cfg: config.Notifications,
    message: Message,
    channels: tuple[str, ...] | list[str],
    context: Any,
    email_to: list[str] | tuple[str, ...] = (),
    recipients: Recipients | None = None,
    incident_id: str = "",
    window: tuple[datetime, datetime] | None = None,
) -> dict[str, Any]:
    """Send ``message`` on each channel; never raises. Returns {channel: "sent" | "failed" | "skipped: why"}
    and, for the status page, the incident's id under "statuspage_incident"."""
    recipients = recipients or Recipients()
    outcome: dict[str, Any] = {}
    for channel in channels:
        if not cfg.configured(channel):
            outcome[channel] = "skipped: not configured"
            continue
        if channel == "slack":
            ok, _ = _attempt("slack", cfg.attempts, lambda: _slack(cfg, message, recipients, context))
        elif channel == "email":
            to = list(dict.fromkeys([*email_to, *recipients.email]))
            if not to:
                outcome[channel] = "skipped: no recipients"
                continue
            ok, _ = _attempt("e-mail", cfg.attempts, lambda to=to: _email(cfg, message, to, context))  # type: ignore[misc]
        else:
            request = statuspage_request(cfg, message, incident_id, window)
            if request is None:
                outcome[channel] = "skipped: nothing to post"
                continue
            ok, ident = _attempt("status page", cfg.attempts, lambda request=request: _statuspage(cfg, request))  # type: ignore[misc]
            if ok and ident:
                outcome["statuspage_incident"] = ident
        outcome[channel] = "sent" if ok else "failed"
    sent = [c for c in channels if outcome.get(c) == "sent"]
    failed = [c for c in channels if outcome.get(c) == "failed"]
    (log.warning if failed else log.info)(
        "%s: %s%s",
        message.kind,
        message.subject,
        f" (sent: {', '.join(sent) or 'nothing'}; FAILED, the release goes on: {', '.join(failed)})"
        if failed
        else f" (sent: {', '.join(sent) or 'nothing'})",
    )
    return outcome


def window_span(opens: datetime | None, hours: float) -> tuple[datetime, datetime] | None:
    return (opens, opens + timedelta(hours=hours)) if opens else None
