"""Alerts from outside, read into what ``rollback_on_alert`` judges.

The seed's rollback triggers hold at any time, not only while a release is
verified or watched. A monitor (Alertmanager, Grafana, Sentry through a relay,
a script) posts its alert to ``POST /releases/api/alerts`` (the Releases
plugin, with the token of the ``release_alerts`` connection) or triggers the
DAG ``rollback_on_alert`` itself. Each firing alert names:

- its environment: the label ``environment`` (or ``env``), or ``?environment=``;
- the rollback trigger it measures: the label ``rollback_trigger`` (or
  ``trigger``), or ``?trigger=``; a trigger's name (``error_rate``) or its
  measurement (``error_rate_percent``);
- the measured value: the annotation ``value`` (Alertmanager:
  ``value: "{{ $value }}"``), Grafana's ``values``, or ``value`` in plain JSON;
- optionally the release it is about (label ``release``): an alert about a
  release that is no longer live rolls nothing back.

The value is judged by ``verify.rollback_verdict``, the same limits as a
release's verification: the monitor's own threshold does not decide.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from laravel_release import policy

ALERT_DAG = "rollback_on_alert"
TRIGGERS = {t.name: t for t in policy.ROLLBACK_TRIGGERS}
METRICS = {t.metric: t for t in policy.ROLLBACK_TRIGGERS}
RELEASE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"
SUMMARY_MAX = 500


class AlertError(ValueError):
    """An alert that cannot be judged: what is wrong with it, and how to fix the rule that sent it."""


@dataclass(frozen=True)
class Alert:
    environment: str
    metric: str  # the measurement of a rollback trigger (policy.ROLLBACK_TRIGGERS)
    value: float
    summary: str = ""
    release: str = ""


def metric_of(trigger: str) -> str:
    """A trigger named by its name or by its measurement, as its measurement."""
    name = trigger.strip()
    if name in TRIGGERS:
        return TRIGGERS[name].metric
    if name in METRICS:
        return name
    raise AlertError(
        f"unknown rollback trigger {trigger!r}: name one of {', '.join(TRIGGERS)} "
        "(the label rollback_trigger, or ?trigger= in the webhook's URL)"
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%").strip())
        except ValueError:
            return None
    if isinstance(value, Mapping) and len(value) >= 1:  # Grafana's "values": {"B": 12.5}, the reduced one last
        return _number(list(value.values())[-1])
    return None


def _one(name: str, labels: Mapping[str, Any], notes: Mapping[str, Any], value: Any, query: Mapping[str, str]) -> Alert:
    env = str(labels.get("environment") or labels.get("env") or query.get("environment") or "").strip()
    if not env:
        raise AlertError(
            f"alert {name!r} names no environment: label it environment=<staging|uat|production>, "
            "or add ?environment= to the webhook's URL"
        )
    trigger = str(labels.get("rollback_trigger") or labels.get("trigger") or query.get("trigger") or "").strip()
    if not trigger:
        raise AlertError(
            f"alert {name!r} names no rollback trigger: label it rollback_trigger=<{'|'.join(TRIGGERS)}>, "
            "or add ?trigger= to the webhook's URL"
        )
    measured = _number(value)
    if measured is None or not math.isfinite(measured) or measured < 0:
        raise AlertError(
            f"alert {name!r} carries no measured value (got {value!r}, a number of 0 or more is needed): add the "
            'annotation value: "{{ $value }}" to its rule (or "value" to the JSON), so that the rollback limits '
            "judge it"
        )
    summary = str(notes.get("summary") or notes.get("description") or name or "").strip()
    release = str(labels.get("release") or notes.get("release") or "").strip()
    if release and not re.match(RELEASE_PATTERN, release):
        raise AlertError(f"alert {name!r}: release {release!r} is not a release folder name or a version")
    return Alert(env, metric_of(trigger), measured, summary[:SUMMARY_MAX], release)


def parse(payload: Any, query: Mapping[str, str], environments: Iterable[str]) -> list[Alert]:
    """The firing alerts of a webhook's body: Alertmanager's or Grafana's (``alerts``: resolved ones are
    left out), or plain JSON (one alert, or a list). Raises AlertError naming what is missing."""
    if isinstance(payload, Mapping) and isinstance(payload.get("alerts"), list):
        found = []
        for a in payload["alerts"]:
            if not isinstance(a, Mapping):
                raise AlertError("every item of 'alerts' must be an object")
            if str(a.get("status") or "firing") != "firing":
                continue
            labels, notes = a.get("labels") or {}, a.get("annotations") or {}
            value = notes.get("value", a.get("values", labels.get("value")))
            found.append(_one(str(labels.get("alertname") or "?"), labels, notes, value, query))
    elif isinstance(payload, Mapping | list):
        items = payload if isinstance(payload, list) else [payload]
        found = []
        for a in items:
            if not isinstance(a, Mapping):
                raise AlertError("an alert must be a JSON object")
            found.append(_one(str(a.get("name") or a.get("summary") or "?"), a, a, a.get("value"), query))
    else:
        raise AlertError(
            "the body is neither Alertmanager's nor Grafana's webhook JSON ('alerts': [...]) nor an alert "
            '({"environment": ..., "trigger": ..., "value": ...})'
        )
    known = list(environments)
    for alert in found:
        if alert.environment not in known:
            raise AlertError(f"unknown environment {alert.environment!r}: one of {', '.join(known)}")
    return found


def run_confs(alerts: list[Alert], source: str) -> dict[str, dict[str, Any]]:
    """One ``rollback_on_alert`` run's conf per environment: the worst value per measurement, the
    summaries, and the release they are about when they agree on one."""
    if not re.match(SOURCE_PATTERN, source):
        raise AlertError(f"source {source!r} must be a short name (letters, digits, space . _ -)")
    confs: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        conf = confs.setdefault(
            alert.environment,
            {"environment": alert.environment, "source": source, "measured": {}, "summary": "", "release": None},
        )
        measured = conf["measured"]
        measured[alert.metric] = max(alert.value, measured.get(alert.metric, alert.value))
        if alert.summary and alert.summary not in conf["summary"]:
            conf["summary"] = "; ".join(s for s in (conf["summary"], alert.summary) if s)[:SUMMARY_MAX]
        conf.setdefault("_releases", set()).add(alert.release)
    for conf in confs.values():
        releases = conf.pop("_releases")
        conf["release"] = next(iter(releases)) if len(releases) == 1 and "" not in releases else None
    return confs


def describe(conf: Mapping[str, Any]) -> str:
    """An alert run's figures, for its log: "error_rate_percent=12.5, p95_seconds=3"."""
    return ", ".join(f"{k}={v:g}" for k, v in sorted(conf["measured"].items())) + (
        f" ({conf['summary']})" if conf.get("summary") else ""
    )
