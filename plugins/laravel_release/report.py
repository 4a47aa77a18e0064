"""The release report: one HTML page an operator opens in a browser, with charts (plotly, inlined).

Targets first (met or not, in colour), then the charts (deployments per week,
lead time per release, change failure rate per week, restore times, p95 per
release), the audit trail of production changes, and each release's checklist
with its proof. An empty history gives a page that says so.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any

from laravel_release import evidence

STYLE = """
body{font-family:-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2328;max-width:1200px}
h1{margin-bottom:4px} .sub{color:#57606a;margin-top:0}
table{border-collapse:collapse;width:100%;margin:12px 0 24px} th,td{padding:6px 10px;border-bottom:1px solid #d0d7de;
text-align:left;font-size:14px;vertical-align:top} th{background:#f6f8fa}
.met{color:#1a7f37;font-weight:600} .missed{color:#cf222e;font-weight:600} .none{color:#57606a}
.done{color:#1a7f37} .failed{color:#cf222e} .pending{color:#9a6700} .na{color:#8c959f}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px} .card{border:1px solid #d0d7de;border-radius:6px;padding:8px}
.flag{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px;margin:8px 0}
details{margin:6px 0} summary{cursor:pointer;font-weight:600}
"""


def _fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if unit == " h" and value < 1:  # durations: seconds or minutes when under an hour
        return f"{value * 3600:.0f} s" if value < 1 / 60 else f"{value * 60:.0f} min"
    if float(value).is_integer():
        return f"{value:.0f}{unit}"
    return f"{value:.1f}{unit}" if abs(value) < 100 else f"{value:.0f}{unit}"


def _chart(figure: Any, first: bool) -> str:
    return str(
        figure.to_html(full_html=False, include_plotlyjs="inline" if first else False, config={"displayModeBar": False})
    )


def charts(found: list[evidence.Change], weeks: list[dict[str, Any]]) -> list[str]:
    import plotly.graph_objects as go

    layout = {"height": 300, "margin": {"l": 50, "r": 20, "t": 40, "b": 40}, "template": "plotly_white"}
    releases = [c for c in found if c.kind == "release" and c.outcome != "running"]
    good = [c for c in releases if c.outcome == "success" and c.verified]
    figures = []

    f = go.Figure(go.Bar(x=[w["week"] for w in weeks], y=[w["deployments"] for w in weeks], marker_color="#2da44e"))
    f.add_hline(y=1, line_dash="dot", annotation_text="target: weekly")
    f.update_layout(title="Deployments to production per week", **layout)
    figures.append(f)

    lead = [
        (c.version, evidence.statistics.median([(c.verified - t).total_seconds() / 3600 for t in c.commit_times]))
        for c in good
        if c.commit_times and c.verified
    ]
    f = go.Figure(go.Scatter(x=[v for v, _ in lead], y=[h for _, h in lead], mode="lines+markers"))
    f.add_hline(y=168, line_dash="dot", annotation_text="target: < 1 week")
    f.update_layout(title="Lead time for changes (median per release, hours)", **layout)
    figures.append(f)

    f = go.Figure(
        go.Bar(
            x=[w["week"] for w in weeks],
            y=[w["failure_rate"] if w["failure_rate"] is not None else 0 for w in weeks],
            marker_color="#cf222e",
            text=[f"{w['failures']} failed" if w["failures"] else "" for w in weeks],
        )
    )
    f.add_hline(y=5, line_dash="dot", annotation_text="target: < 5%")
    f.update_layout(title="Change failure rate per week (%)", **layout)
    figures.append(f)

    restored = [(c, (c.restored - c.detected).total_seconds()) for c in found if c.detected and c.restored]
    longest = max((seconds for _, seconds in restored), default=0)
    unit, per = ("seconds", 1) if longest < 120 else ("minutes", 60)
    f = go.Figure(
        go.Bar(
            x=[f"{c.version} ({c.started:%m-%d %H:%M})" if c.started else c.version for c, _ in restored],
            y=[seconds / per for _, seconds in restored],
            marker_color="#bf8700",
        )
    )
    if 5 * longest >= 3600:  # the target line only where it does not flatten the bars
        f.add_hline(y=3600 / per, line_dash="dot", annotation_text="target: < 1 h")
    f.update_layout(title=f"Time to restore per failure ({unit}; target < 1 h)", **layout)
    figures.append(f)

    measured = [c for c in releases if c.p95_ms is not None]
    f = go.Figure(go.Scatter(x=[c.version for c in measured], y=[c.p95_ms for c in measured], mode="lines+markers"))
    f.add_hline(y=500, line_dash="dot", annotation_text="pages: 500 ms")
    f.add_hline(y=300, line_dash="dot", annotation_text="APIs: 300 ms", line_color="#cf222e")
    f.update_layout(title="p95 response time in production per release (ms)", **layout)
    figures.append(f)
    return [_chart(fig, i == 0) for i, fig in enumerate(figures)]


def _targets_table(scored: list[evidence.Scored]) -> str:
    rows = []
    for s in scored:
        css, word = {True: ("met", "met"), False: ("missed", "missed"), None: ("none", "not measured yet")}[s.met]
        if s.target.name == "uptime_percent":
            word = "not measured here: needs an external uptime monitor"
        rows.append(
            f"<tr><td>{html.escape(s.target.title)}</td><td>{_fmt(s.value, s.target.unit)}</td>"
            f"<td>{html.escape(s.target.describe())}</td><td class='{css}'>{word}</td></tr>"
        )
    return "<table><tr><th>metric</th><th>value</th><th>target</th><th></th></tr>" + "".join(rows) + "</table>"


def _audit_table(found: list[evidence.Change]) -> str:
    rows = []
    for c in reversed(found):
        who = c.triggered_by + (f" ({c.trigger})" if c.trigger else "")
        approved = f"{c.approved_by} at {c.approved_at:%Y-%m-%d %H:%M}" if c.approved_by and c.approved_at else "—"
        flags = f"<br><span class='pending'>missing: {html.escape(', '.join(c.missing))}</span>" if c.missing else ""
        override = f"<br>window override: {html.escape(c.window_override)}" if c.window_override else ""
        override += f"<br>quality: {html.escape(c.quality)}" if c.quality else ""
        what = f"{c.release_type} release" if c.kind == "release" else "rollback"
        perf = c.performance if c.kind == "release" else "—"
        perf_css = {"met": "done", "not measured": "none"}.get(perf, "missed") if c.kind == "release" else "none"
        rows.append(
            f"<tr><td>{c.started:%Y-%m-%d %H:%M}</td><td>{html.escape(what)}</td>"
            f"<td>{html.escape(c.replaced or '—')} → {html.escape(c.version)}</td><td>{html.escape(who)}"
            f"{'<br>' + html.escape(c.note) if c.note else ''}</td><td>{html.escape(approved)}</td>"
            f"<td>{html.escape(', '.join(c.hosts))}</td><td class='{'done' if c.outcome == 'success' else 'failed'}'>"
            f"{c.outcome.replace('_', ' ')}{override}{flags}</td><td class='{perf_css}'>{html.escape(perf)}</td></tr>"
            if c.started
            else ""
        )
    head = "<tr><th>when (UTC)</th><th>what</th><th>version</th><th>triggered by</th><th>approved by</th>"
    return f"<table>{head}<th>hosts</th><th>outcome</th><th>performance targets</th></tr>{''.join(rows)}</table>"


def _post_mortems(found: list[evidence.Change]) -> str:
    """Each incident (a failed or rolled-back release, a rollback) and its post-mortem's answer."""
    rows = []
    for c in reversed([c for c in found if c.failed or c.kind == "rollback"]):
        pm = c.post_mortem or {}
        fields = pm.get("params_input") or {}
        what = f"{c.release_type} release {c.version}" if c.kind == "release" else f"rollback to {c.version}"
        if pm:
            cells = "".join(
                f"<td>{html.escape(str(fields.get(k) or '—'))}</td>" for k in ("root_cause", "actions", "owner")
            )
            who = f"<td>{html.escape(pm.get('responded_by') or '?')} at {html.escape(str(pm.get('responded_at')))}</td>"
        else:
            cells, who = (
                "<td colspan='3' class='pending'>pending: the post-mortem form is not answered</td>",
                "<td>—</td>",
            )
        when = f"{c.started:%Y-%m-%d %H:%M}" if c.started else "?"
        rows.append(f"<tr><td>{when}</td><td>{html.escape(what)} ({c.outcome.replace('_', ' ')})</td>{cells}{who}</tr>")
    if not rows:
        return "<p class='sub'>No incident in this period.</p>"
    head = "<tr><th>when (UTC)</th><th>incident</th><th>root cause</th><th>actions</th><th>owner</th><th>by</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _checklists(runs: list[dict[str, Any]], found: list[evidence.Change]) -> str:
    by_run = {(r["dag_id"], r["run_id"]): r for r in runs}
    parts = []
    for c in reversed([c for c in found if c.kind == "release"]):
        items = evidence.checklist(by_run[(c.dag_id, c.run_id)])
        done = sum(1 for i in items if i.status == "done")
        rows = "".join(
            f"<tr><td>{html.escape(i.checklist)}</td><td>{html.escape(i.item)}</td>"
            f"<td class='{i.status.replace('/', '')}'>{i.status}</td><td>{html.escape(i.proof)}</td></tr>"
            for i in items
        )
        parts.append(
            f"<details><summary>{html.escape(c.version)} ({html.escape(c.release_type)}, {c.outcome.replace('_', ' ')})"
            f": {done} of {len(items)} items proven</summary><table><tr><th>checklist</th><th>item</th>"
            f"<th>status</th><th>proof</th></tr>{rows}</table></details>"
        )
    return "".join(parts)


def render(runs: list[dict[str, Any]], now: datetime, weeks: int, app: str = "ZenaManage") -> tuple[str, str]:
    """(the HTML page, a short summary for Slack)."""
    found = evidence.changes(runs)
    metrics = evidence.dora(found, now, weeks)
    scored = evidence.score(metrics)
    title = f"{app} releases: the last {weeks} week{'s' if weeks != 1 else ''}, to {now:%Y-%m-%d %H:%M} UTC"
    head = f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>{STYLE}</style>"
    if not found:
        body = (
            f"<h1>{html.escape(title)}</h1><p class='sub'>Nothing yet: no release has reached production, and "
            "production has not been rolled back, in this period. The report fills in as releases run.</p>"
            + _targets_table(scored)
        )
        return head + f"</head><body>{body}</body></html>", f"{title}: nothing yet, no production change in the period"
    flagged = ""
    if metrics.flagged:
        items = "".join(f"<li>{html.escape(f)}</li>" for f in metrics.flagged)
        flagged = (
            f"<div class='flag'><details{' open' if len(metrics.flagged) <= 5 else ''}><summary>Counted, with data "
            f"missing: {len(metrics.flagged)} run(s)</summary><ul>{items}</ul></details></div>"
        )
    plots = charts(found, evidence.per_week(found, now, weeks))
    body = (
        f"<h1>{html.escape(title)}</h1><p class='sub'>{metrics.deployments} deployments to production, "
        f"{metrics.failures} failed or rolled back, {metrics.restores} restores. From Airflow's run history.</p>"
        f"{flagged}<h2>Targets</h2>{_targets_table(scored)}<h2>Trends</h2><div class='grid'>"
        + "".join(f"<div class='card'>{p}</div>" for p in plots)
        + f"</div><h2>Audit trail: production changes</h2>{_audit_table(found)}"
        f"<h2>Post-mortems</h2>{_post_mortems(found)}"
        f"<h2>Checklists</h2>{_checklists(runs, found)}"
    )
    missed = [s.target.title for s in scored if s.met is False]
    summary = (
        f"{title}: {metrics.deployments} deployments, change failure rate {_fmt(metrics.change_failure_rate, '%')}, "
        f"lead time {_fmt(metrics.lead_time_hours, ' h')}, "
        f"time to restore {_fmt(metrics.time_to_restore_hours, ' h')}. "
        + (f"Missed: {', '.join(missed)}." if missed else "Every measured target met.")
        + (f" {len(metrics.flagged)} run(s) with missing data." if metrics.flagged else "")
    )
    return head + f"</head><body>{body}</body></html>", summary
