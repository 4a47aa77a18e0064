"""The environment file: the shipped one loads; every mistake names the file and the key."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from laravel_release import config

SHIPPED = config.DEFAULT_CONFIG


def raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "envs.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_shipped_file_targets_the_sandbox():
    cfg = config.load(SHIPPED)
    assert set(cfg.environments) == {"staging", "uat", "production"}
    production = cfg.environment("production")
    assert [h.name for h in production.hosts] == ["production-1", "production-2"]
    assert production.primary.name == "production-1"
    assert cfg.build.test_commands, "the build runs the app's tests"
    assert all(h.deploy_path.startswith("/") for env in cfg.environments.values() for h in env.hosts)


def test_the_example_for_real_servers_is_valid():
    cfg = config.load(SHIPPED.parent / "zenamanage.example.yaml")
    assert cfg.environment("production").hosts[0].reload_command == "sudo systemctl reload php8.2-fpm"


def test_defaults_apply_and_environments_override_them():
    cfg = config.load(SHIPPED)
    assert cfg.environment("staging").keep_releases == 5
    assert [t.name for t in cfg.environment("uat").smoke_tests][-1] == "unknown page is a 404"
    assert cfg.environment("staging").smoke_tests[0].status == 200


def test_the_environment_variable_chooses_the_file(tmp_path, monkeypatch):
    data = raw()
    data["app"]["name"] = "Elsewhere"
    monkeypatch.setenv(config.CONFIG_ENV_VAR, str(write(tmp_path, data)))
    assert config.load().app_name == "Elsewhere"


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (
            lambda d: d["environments"]["production"]["hosts"][1].pop("ssh_conn_id"),
            "environments.production.hosts[1]",
            "'ssh_conn_id' is a required property",
        ),
        (
            lambda d: d["environments"]["staging"]["hosts"][0].update(deploy_path="relative/path"),
            "environments.staging.hosts[0].deploy_path",
            "does not match",
        ),
        (
            lambda d: d["environments"]["uat"].update(keep_releases=1),
            "environments.uat.keep_releases",
            "less than the minimum",
        ),
        (lambda d: d["environments"].pop("uat"), "environments", "'uat' is a required property"),
        (lambda d: d["environments"].update(qa={"hosts": []}), "environments", "'qa' was unexpected"),
        (lambda d: d["build"].update(timeout_seconds="long"), "build.timeout_seconds", "is not of type 'integer'"),
        (
            lambda d: d["environments"]["staging"]["hosts"][0].update(base_url="127.0.0.1:8081"),
            "environments.staging.hosts[0].base_url",
            "does not match",
        ),
        (
            lambda d: d["defaults"].update(release_commands=["config:cache; rm -rf /"]),
            "defaults.release_commands[0]",
            "does not match",
        ),
        # nothing outside the release or shared folder is linked, copied or read
        (lambda d: d["defaults"].update(shared_dirs=["storage", "../../etc"]), "defaults.shared_dirs[1]", "match"),
        (lambda d: d["defaults"].update(shared_files=["config/../../.env"]), "defaults.shared_files[0]", "match"),
        (lambda d: d["build"].update(coverage_report=".."), "build.coverage_report", "does not match"),
        (
            lambda d: d["environments"]["uat"].update(endpoints={"version": {"field": "version"}}),
            "environments.uat.endpoints.version",
            "is not valid",
        ),
    ],
)
def test_a_mistake_names_the_file_and_the_key(tmp_path, mutate, key, words):
    data = copy.deepcopy(raw())
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert f"{path}: key {key}: " in message
    assert words in message


def test_two_hosts_with_one_name_are_refused(tmp_path):
    data = raw()
    hosts = data["environments"]["production"]["hosts"]
    hosts[1]["name"] = hosts[0]["name"]
    with pytest.raises(
        config.ConfigError, match=r"environments\.production\.hosts: host name 'production-1' is used twice"
    ):
        config.load(write(tmp_path, data))


def test_a_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(config.ConfigError, match="environment file not found; set LARAVEL_RELEASE_CONFIG"):
        config.load(tmp_path / "nope.yaml")


def test_a_file_that_is_not_yaml_says_so(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("app: [unclosed\n")
    with pytest.raises(config.ConfigError, match="not valid YAML"):
        config.load(path)


def test_a_key_given_twice_is_named_with_its_lines(tmp_path):
    path = tmp_path / "twice.yaml"
    text = SHIPPED.read_text()
    path.write_text(text.replace("environments:\n", "environments:\n  staging: {}\n", 1))
    with pytest.raises(config.ConfigError) as err:
        config.load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: key 'staging' appears twice in one mapping (lines ")
    assert "remove or merge one of them" in message


def test_an_unreadable_file_says_whose_it_must_be(tmp_path, monkeypatch):
    path = tmp_path / "secret.yaml"
    path.write_text(SHIPPED.read_text())

    def refuse(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(config.Path, "read_text", refuse)
    with pytest.raises(config.ConfigError, match="environment file not readable by this user .uid \\d+.; make it"):
        config.load(path)


def test_a_folder_or_a_binary_file_is_named_as_such(tmp_path):
    with pytest.raises(config.ConfigError, match="is a folder, not an environment file"):
        config.load(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(b"app: \xff\xfe\n")
    with pytest.raises(config.ConfigError, match="not UTF-8 text .* at byte 5.; save it as UTF-8"):
        config.load(binary)


def test_the_approval_service_is_a_connection_and_the_old_url_says_so(tmp_path):
    data = raw()
    data["environments"]["uat"]["signoff"] = {"approvers": ["alice"], "service": {"conn_id": "zena_approvals"}}
    env = config.load(write(tmp_path, data)).environment("uat")
    assert (env.signoff_conn_id, env.signoff_endpoint, env.allow_self_approval) == ("zena_approvals", "/", False)
    assert "zena_approvals" in config.load(write(tmp_path, data)).connection_ids(["uat"])
    data["environments"]["uat"]["signoff"] = {"approvers": ["alice", "42"]}  # a number reads as a FAB user id
    with pytest.raises(
        config.ConfigError, match=r"key environments\.uat\.signoff\.approvers\[1\]: '42' does not match"
    ):
        config.load(write(tmp_path, data))
    data["environments"]["uat"]["signoff"] = {"url": "https://approvals.test/api"}
    with pytest.raises(
        config.ConfigError, match=r"signoff\.url: the approval service is now an Airflow HTTP connection"
    ):
        config.load(write(tmp_path, data))


def test_an_unknown_environment_lists_the_known_ones():
    with pytest.raises(
        config.ConfigError, match="unknown environment 'prod'; the file defines staging, uat, production"
    ):
        config.load(SHIPPED).environment("prod")


def test_verification_settings_and_the_watch(tmp_path):
    from laravel_release import policy

    cfg = config.load(SHIPPED)
    prod, staging = cfg.environment("production"), cfg.environment("staging")
    assert prod.probe_paths == ("/", "/api/projects", "/api/health") and prod.probe_seconds == 3
    assert prod.auth_path == "/api/me" and prod.auth_conn_id == "zena_probe"
    assert prod.integrity_tables == ("projects",)
    assert "zena_probe" in cfg.connection_ids(["production"])
    hotfix = policy.release_type("hotfix")
    assert prod.watch_seconds(hotfix) == 60 and staging.watch_seconds(hotfix) == 0
    data = raw()
    data["environments"]["production"].pop("watch_minutes")
    data["defaults"].pop("probe")
    data["defaults"].pop("auth")
    bare = config.load(write(tmp_path, data))
    assert bare.environment("production").watch_seconds(policy.release_type("major")) == 60 * 60
    assert bare.environment("production").probe_seconds == 10  # the default probe
    assert bare.environment("production").probe_paths == ("/api/health", "/", "/api/projects")  # health + smoke tests
    assert bare.environment("production").auth_path == ""  # no authentication check configured


def test_endpoints_default_to_the_sandbox_s_and_may_differ_per_environment(tmp_path):
    data = raw()
    data["defaults"]["probe"].pop("paths")
    data["environments"]["staging"]["endpoints"] = {"health": "/up", "version": False}
    data["environments"]["uat"]["endpoints"] = {"version": "/about.json"}
    data["environments"]["production"]["endpoints"] = {"version": {"path": "/status", "pattern": r"Release:\s*(\S+)"}}
    cfg = config.load(write(tmp_path, data))
    staging, uat, prod = (cfg.environment(e) for e in ("staging", "uat", "production"))
    assert (staging.health_path, staging.version_path) == ("/up", "")
    assert staging.probe_paths == ("/up", "/", "/api/projects")  # the health path is probed, not /api/health
    assert (uat.health_path, uat.version_path, uat.version_field) == ("/api/health", "/about.json", "version")
    assert (prod.version_path, prod.version_pattern) == ("/status", r"Release:\s*(\S+)")
    assert config.load(SHIPPED).environment("production").version_path == "/api/version"


def test_a_version_pattern_that_is_not_a_regular_expression_is_named(tmp_path):
    data = raw()
    data["environments"]["uat"]["endpoints"] = {"version": {"path": "/v", "pattern": "(unclosed"}}
    with pytest.raises(config.ConfigError, match=r"environments\.uat\.endpoints\.version\.pattern: not a regular"):
        config.load(write(tmp_path, data))


def test_quality_thresholds_are_read_from_the_file(tmp_path):
    data = raw()
    data["quality"] = {"min_coverage_percent": 80, "tests_required": False}
    q = config.load(write(tmp_path, data)).quality
    assert (q.min_coverage_percent, q.max_critical_findings, q.tests_required) == (80, None, False)
    assert config.load(SHIPPED).quality == config.Quality()
    data["quality"] = {"min_coverage_percent": 120}
    with pytest.raises(config.ConfigError, match=r"key quality\.min_coverage_percent: 120 is greater than"):
        config.load(write(tmp_path, data))


def test_release_notes_may_also_be_posted_to_an_http_connection(tmp_path):
    data = raw()
    assert (config.load(write(tmp_path, data)).publish_conn_id, config.load(SHIPPED).reports_path().name) == (
        "",
        "reports",
    )
    data["reports"] = {"dir": str(tmp_path / "r"), "publish": {"conn_id": "zena_docs", "endpoint": "/notes"}}
    cfg = config.load(write(tmp_path, data))
    assert (cfg.publish_conn_id, cfg.publish_endpoint, cfg.reports_path()) == ("zena_docs", "/notes", tmp_path / "r")
    data["reports"]["publish"] = {"conn_id": "zena_docs"}
    with pytest.raises(config.ConfigError, match=r"reports\.publish: 'endpoint' is a required property"):
        config.load(write(tmp_path, data))
