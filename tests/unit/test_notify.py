"""notify.py: the messages, the escalation matrix, the Statuspage calls, and delivery to real local servers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from laravel_release import config, notify
from laravel_release.steps.announce import outcome
from tests.inbox import COMPONENT, PAGE, Inbox

LINK = "http://airflow.test/dags/release_feature/runs/manual__1"
DECISION = {
    "environment": "production",
    "from": "v1.4.0-20261126T0200-ab12",
    "to": "v1.3.0-20261119T0200-cd34",
    "version": "v1.3.0",
    "mode": "code",
    "reason": "ROLLBACK TRIGGER error rate over 5%: 12.5% (limit 5%)",
    "trigger_text": "ROLLBACK TRIGGER error rate over 5%: 12.5% (limit 5%)\n"
    "ROLLBACK TRIGGER p95 response time over 2 s: 2.4 s (limit 2 s)",
}
NOTIFICATIONS = config.parse_notifications(Inbox.notifications(), "test.yaml")


@pytest.fixture
def empty(inbox):
    inbox.clear()
    inbox.fail_requests = 0
    return inbox


def test_the_pre_release_message_says_what_when_and_which_window():
    opens = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    m = notify.pre_release("ZenaManage", "feature", "v1.4.0", "v1.3.0", "Tue-Thu 02:00 UTC, 2 h", opens, None, LINK)
    assert m.subject == "Pre-release: ZenaManage v1.4.0 goes to production in its window"
    assert "What: feature release v1.4.0, replacing v1.3.0" in m.lines
    assert "When: in the release window (Tue-Thu 02:00 UTC, 2 h), opening Tue 2026-12-01 02:00 UTC" in m.lines
    assert "Passed: the quality gates and UAT sign-off" in m.lines
    assert m.text().endswith(f"<{LINK}|Open the run in Airflow>")
    now = notify.pre_release("ZenaManage", "feature", "v1.4.1", "v1.4.0", "Tue-Thu", None, "INC-42 outage", LINK)
    assert now.subject.endswith("goes to production now (window override)")
    assert "When: now, outside its window (Tue-Thu): override, because INC-42 outage" in now.lines
    hotfix = notify.pre_release("ZenaManage", "hotfix", "v1.4.1", "v1.4.0", None, None, None, LINK)
    assert "When: as soon as staging is verified (a hotfix has no release window)" in hotfix.lines
    assert "Passed: the quality gates" in hotfix.lines  # no UAT for a hotfix
    # every type that waits for UAT sign-off says so (a maintenance release too)
    for rtype in ("feature", "maintenance", "major"):
        said = notify.pre_release("ZenaManage", rtype, "v1.4.1", "v1.4.0", "w", None, None, LINK).lines
        assert "Passed: the quality gates and UAT sign-off" in said, rtype


def test_the_incident_names_every_trigger_with_its_numbers_and_the_rollback_under_way():
    m = notify.incident("ZenaManage", DECISION, LINK)
    assert m.urgent and m.subject == "INCIDENT ZenaManage production: rolling back to v1.3.0"
    assert m.lines[:2] == (
        "What tripped: ROLLBACK TRIGGER error rate over 5%: 12.5% (limit 5%)",
        "What tripped: ROLLBACK TRIGGER p95 response time over 2 s: 2.4 s (limit 2 s)",
    )
    assert f"Rollback in progress: {DECISION['from']} -> {DECISION['to']} (v1.3.0), mode code" in m.lines
    assert "<li>What tripped: ROLLBACK TRIGGER error rate over 5%: 12.5% (limit 5%)</li>" in m.html()


def test_finished_resolved_and_escalated_messages():
    ok = notify.finished("ZenaManage", "production", "v1.4.0", "success", 82.4, ["p-1", "p-2"], ["watched"], LINK)
    assert ok.subject == "Release finished: ZenaManage v1.4.0 is live on production" and not ok.urgent
    assert ok.lines[:2] == ("Duration: 82 s", "Hosts: p-1, p-2")
    bad = notify.finished("ZenaManage", "staging", "v1.4.0", "rolled_back", 300, ["s-1"], [], LINK)
    assert bad.urgent and bad.subject.startswith("Release rolled back") and "Duration: 5 min" in bad.lines
    done = notify.resolved("ZenaManage", DECISION, 6.2, ["p-1", "p-2"], LINK)
    assert done.subject == "RESOLVED ZenaManage production: back on v1.3.0"
    assert f"Rolled back from {DECISION['from']} to {DECISION['to']} on p-1, p-2 in 6 s" in done.lines
    lead = NOTIFICATIONS.escalation[1]
    up = notify.escalated("ZenaManage", lead, DECISION, 16, LINK)
    assert up.subject == ("ESCALATION level 2 (Technical lead): ZenaManage production incident unresolved for 16 min")


def test_the_matrix_reaches_each_level_once_after_its_time():
    levels = tuple(
        config.Level(i, name, minutes)
        for i, (name, minutes) in enumerate(
            [("Development team", 0), ("Technical lead", 15), ("Engineering manager", 30), ("CTO", 60), ("CEO", 120)],
            start=1,
        )
    )
    assert [lv.number for lv in notify.due_levels(levels, 0, 0)] == [1]
    assert notify.due_levels(levels, 14.9, 1) == []
    assert [lv.name for lv in notify.due_levels(levels, 31, 1)] == ["Technical lead", "Engineering manager"]
    assert notify.due_levels(levels, 500, 5) == []
    assert notify.next_level_at(levels, 1000.0, 1) == 1000.0 + 15 * 60
    assert notify.next_level_at(levels, 1000.0, 5) is None


def test_statuspage_calls_follow_its_api_v1_and_only_for_production():
    window = (datetime(2026, 12, 1, 2, tzinfo=UTC), datetime(2026, 12, 1, 4, tzinfo=UTC))
    pre = notify.pre_release("ZenaManage", "feature", "v1.4.0", "v1.3.0", "w", window[0], None, LINK)
    method, path, body = notify.statuspage_request(NOTIFICATIONS, pre, "", window)
    assert (method, path) == ("POST", f"/v1/pages/{PAGE}/incidents")
    assert body["incident"]["status"] == "scheduled"
    assert body["incident"]["scheduled_for"] == "2026-12-01T02:00:00+00:00"
    assert body["incident"]["scheduled_until"] == "2026-12-01T04:00:00+00:00"
    assert body["incident"]["component_ids"] == [COMPONENT]
    incident = notify.incident("ZenaManage", DECISION, LINK)
    _, _, body = notify.statuspage_request(NOTIFICATIONS, incident, "")
    assert body["incident"]["status"] == "identified"
    assert body["incident"]["components"] == {COMPONENT: "degraded_performance"}
    done = notify.resolved("ZenaManage", DECISION, 6, ["p-1"], LINK)
    method, path, body = notify.statuspage_request(NOTIFICATIONS, done, "inc7")
    assert (method, path) == ("PATCH", f"/v1/pages/{PAGE}/incidents/inc7")
    assert body["incident"]["status"] == "resolved" and body["incident"]["components"] == {COMPONENT: "operational"}
    staging = notify.incident("ZenaManage", {**DECISION, "environment": "staging"}, LINK)
    assert notify.statuspage_request(NOTIFICATIONS, staging, "") is None


def test_the_status_page_gets_curated_words_never_triggers_hosts_or_reasons():
    at = datetime(2026, 12, 1, 2, 7, tzinfo=UTC)
    window = (datetime(2026, 12, 1, 2, tzinfo=UTC), datetime(2026, 12, 1, 4, tzinfo=UTC))
    secret = {
        **DECISION,
        "reason": "INC-9: db-7.internal leaks rows",
        "trigger_text": "ROLLBACK TRIGGER internal 10.0.0.7",
    }
    pre = notify.pre_release("ZenaManage", "feature", "v1.4.0", "v1.3.0", "w", None, "INC-9 db-7.internal down", LINK)
    messages = {
        "pre": (pre, ""),
        "incident": (notify.incident("ZenaManage", secret, LINK, at), ""),
        "resolved": (notify.resolved("ZenaManage", secret, 6, ["production-1.internal"], LINK, at), "inc7"),
        "closed": (notify.closed("ZenaManage", secret, 40, LINK, at), "inc7"),
    }
    public = {}
    for kind, (message, incident_id) in messages.items():
        _, _, body = notify.statuspage_request(NOTIFICATIONS, message, incident_id, window)
        said = " ".join(str(v) for v in (body["incident"].get("name", ""), body["incident"]["body"])).strip()
        for internal in ("INC-9", "db-7", "10.0.0.7", "TRIGGER", "production-1", "v1.3.0", "v1.4.0", "/dags/"):
            assert internal not in said, (kind, said)
        public[kind] = said
    assert public["pre"] == (
        "ZenaManage: scheduled update ZenaManage is updated now. No downtime is expected; should anything go wrong, "
        "the previous version is put back within a minute."
    )
    assert public["incident"] == (
        "ZenaManage: degraded service Since 02:07 UTC some pages of ZenaManage may fail or be slow. "
        "We have found the cause and are putting back the previous version."
    )
    assert (
        public["resolved"]
        == public["closed"]
        == ("ZenaManage works normally again since 02:07 UTC. We are sorry for the trouble.")
    )


def test_slack_text_shows_mentions_and_links_as_typed():
    m = notify.incident(
        "ZenaManage", {**DECISION, "trigger_text": "<!channel> see <https://evil.test|here> & now"}, LINK
    )
    text = m.text()
    assert "<!channel>" not in text and "<https://evil.test" not in text
    assert "• What tripped: &lt;!channel&gt; see &lt;https://evil.test|here&gt; &amp; now" in text
    assert text.endswith(f"<{LINK}|Open the run in Airflow>")  # our own link stays a link


def test_a_message_reaches_slack_email_and_the_status_page(empty):
    m = notify.incident("ZenaManage", DECISION, LINK)
    recipients = notify.Recipients(slack=["@dev-team"], email=["dev@zm.test"])
    sent = notify.deliver(NOTIFICATIONS, m, ["slack", "email", "statuspage"], {}, ["cto@zm.test"], recipients)
    assert sent == {"slack": "sent", "email": "sent", "statuspage": "sent", "statuspage_incident": "inc0"}
    (slack,) = empty.slack
    assert slack["text"].startswith("*INCIDENT ZenaManage production: rolling back to v1.3.0*\n")
    assert "• What tripped: ROLLBACK TRIGGER p95 response time over 2 s: 2.4 s (limit 2 s)" in slack["text"]
    assert slack["text"].endswith("cc @dev-team")  # a webhook posts to its channel: the people are named
    (mail,) = empty.mail
    assert mail["to"] == ["cto@zm.test", "dev@zm.test"] and mail["from"] == "releases@zenamanage.test"
    assert mail["subject"] == m.subject and "<li>Rollback in progress:" in mail["html"]
    (page,) = empty.statuspage
    assert page["auth"] == "OAuth statuspage-api-key" and page["incident"]["status"] == "identified"


def test_a_failing_channel_is_retried_then_reported_and_never_raises(empty):
    m = notify.started("ZenaManage", "feature", "staging", "v1.4.0", "v1.3.0", ["staging-1"], LINK)
    empty.fail_requests = 1  # the first attempt fails, the retry gets through
    assert notify.deliver(NOTIFICATIONS, m, ["slack"], {}) == {"slack": "sent"}
    assert len(empty.slack) == 1
    empty.fail_requests = 10  # down for longer than the attempts
    assert notify.deliver(NOTIFICATIONS, m, ["slack", "email"], {}, ["a@zm.test"]) == {
        "slack": "failed",
        "email": "sent",
    }
    assert len(empty.slack) == 1 and len(empty.mail) == 1


def test_a_channel_without_a_connection_is_skipped_by_delivery():
    bare = config.Notifications()
    m = notify.started("ZenaManage", "feature", "staging", "v1.4.0", "", ["staging-1"], LINK)
    assert notify.deliver(bare, m, ["slack", "email"], {}) == {
        "slack": "skipped: not configured",
        "email": "skipped: not configured",
    }


def _file(**notifications) -> dict:
    data = yaml.safe_load(config.DEFAULT_CONFIG.read_text())
    data["notifications"] = notifications
    return data


def test_the_file_configures_channels_recipients_and_the_matrix():
    data = _file(**Inbox.notifications())
    data["environments"]["production"]["stakeholders"] = ["product@zm.test"]
    data["environments"]["staging"]["notify"] = ["slack"]
    cfg = config.parse(data, "t.yaml")
    assert cfg.environment("production").notify == ("slack", "email", "statuspage")
    assert cfg.environment("uat").notify == ("slack", "email")  # the public page shows production only
    assert cfg.environment("staging").notify == ("slack",)
    assert [lv.name for lv in cfg.notifications.escalation] == [
        "Development team",
        "Technical lead",
        "Engineering manager",
        "CTO",
    ]
    assert cfg.notifications.connection_ids() == ["zena_slack", "zena_smtp", "zena_statuspage"]
    assert config.parse(yaml.safe_load(config.DEFAULT_CONFIG.read_text()), "t").environment("production").notify == ()


def test_a_matrix_out_of_order_or_an_unconfigured_channel_is_named():
    levels = [{"name": "Development team", "after_minutes": 10}, {"name": "Technical lead", "after_minutes": 5}]
    with pytest.raises(config.ConfigError, match=r"levels\[1\].after_minutes: level 2 \(Technical lead\) must come"):
        config.parse(_file(slack={"conn_id": "s"}, escalation={"levels": levels}), "t.yaml")
    data = _file(slack={"conn_id": "s"})
    data["environments"]["production"]["notify"] = ["email"]
    with pytest.raises(config.ConfigError, match="environments.production.notify: email is not configured"):
        config.parse(data, "t.yaml")
    with pytest.raises(config.ConfigError, match="level 1 names e-mail recipients"):
        config.parse(
            _file(slack={"conn_id": "s"}, escalation={"levels": [{"name": "a", "after_minutes": 0, "email": ["x@y"]}]}),
            "t.yaml",
        )


def test_the_outcome_of_a_stage_comes_from_its_task_states():
    assert outcome({"production.release_verified": "success"}, "production") == ("success", [])
    rolled = {
        "production.release_verified": "skipped",
        "production.rollback.switch_back": "success",  # switched back and verified, every host
        "production.rollback.record_rollback": "failed",
    }
    assert outcome(rolled, "production") == ("rolled_back", ["production.rollback.record_rollback"])
    assert outcome(
        {"production.migrate_database": "failed", "production.announce_started": "failed"}, "production"
    ) == (
        "failed",
        ["production.migrate_database"],
    )
