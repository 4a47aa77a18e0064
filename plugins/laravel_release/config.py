"""Environments and hosts, read from one YAML file and validated.

The file is read when a task runs, never when a DAG is parsed. Its path comes
from the environment variable ``LARAVEL_RELEASE_CONFIG``; without it, the
shipped ``include/config/environments.yaml`` (the sandbox) is used. Every error
names the file and the key that is wrong.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from laravel_release.policy import RELEASE_TYPES, ReleaseType, Window

RELEASE_TYPE_NAMES = tuple(RELEASE_TYPES)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONFIG_ENV_VAR = "LARAVEL_RELEASE_CONFIG"
DEFAULT_CONFIG = PROJECT_ROOT / "include" / "config" / "environments.yaml"
ENVIRONMENTS = ("staging", "uat", "production")


class ConfigError(ValueError):
    """The environment file cannot be used; the message names the file and the key."""


_NAME = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"}
_ABS_PATH = {"type": "string", "pattern": r"^/[^\s'\"]*$"}
# a path inside the release or shared folder: no "..", so nothing outside them is linked, copied or read
_RELATIVE_PATH = {"type": "string", "pattern": r"^(?!(.*/)?\.\.(/|$))[A-Za-z0-9_.][A-Za-z0-9_./-]*$"}
_EMAIL = {"type": "string", "pattern": r"^[^@\s]+@[^@\s]+$"}
_EMAILS = {"type": "array", "items": _EMAIL}
_COMMANDS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_ARTISAN = {"type": "array", "items": {"type": "string", "pattern": r"^[a-z][a-z:_-]*( [A-Za-z0-9=:_./-]+)*$"}}
_SMOKE_TEST = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "path"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "path": {"type": "string", "pattern": r"^/"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599},
        "contains": {"type": "string"},
    },
}
_ENV_SETTINGS = {
    "keep_releases": {"type": "integer", "minimum": 2, "maximum": 50},
    "shared_dirs": {"type": "array", "items": _RELATIVE_PATH},
    "shared_files": {"type": "array", "items": _RELATIVE_PATH},
    "release_commands": _ARTISAN,
    "after_switch_commands": _ARTISAN,
    "smoke_tests": {"type": "array", "items": _SMOKE_TEST},
    "min_free_mb": {"type": "integer", "minimum": 0},
    "backup": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "keep": {"type": "integer", "minimum": 1},
            # copies each verified dump off the host (BACKUP_FILE, BACKUP_SHA256 set); prints the copy's sha256
            "copy_command": {"type": "string", "minLength": 1},
        },
    },
    # who signs off a release in this environment before the next stage (uat), and who approves a
    # restore of this environment's database (the rollback DAG's Required Action)
    "signoff": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            # Airflow user names; never all digits (FAB's user ids are numbers: see auth.py)
            "approvers": {"type": "array", "items": {"type": "string", "pattern": r"^(?![0-9]+$)\S+$"}},
            # whoever triggered a release may not approve it, unless this says so
            "allow_self_approval": {"type": "boolean"},
            # an approval service, reached through an Airflow HTTP connection (its URL and credentials)
            "service": {
                "type": "object",
                "additionalProperties": False,
                "required": ["conn_id"],
                "properties": {"conn_id": _NAME, "endpoint": {"type": "string", "pattern": r"^/[^\s]*$"}},
            },
            "timeout_hours": {"type": "number", "exclusiveMinimum": 0},
            "poll_seconds": {"type": "integer", "minimum": 15},
        },
    },
    # how long a release waits for a frozen or locked environment before it gives up
    "claim_timeout_minutes": {"type": "integer", "minimum": 1},
    # verification after the switch: a synthetic load on these paths, compared with the same load before it
    "probe": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "seconds": {"type": "number", "minimum": 0.5, "maximum": 600},
            "concurrency": {"type": "integer", "minimum": 1, "maximum": 32},
            "paths": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": r"^/"}},
        },
    },
    # the authentication check: the probe user's token (an Airflow connection's password) must get
    # in at this path, a wrong one must not
    "auth": {
        "type": "object",
        "additionalProperties": False,
        "required": ["path", "conn_id"],
        "properties": {"path": {"type": "string", "pattern": r"^/"}, "conn_id": _NAME},
    },
    # where the app answers health and version (an app another tool deployed may differ)
    "endpoints": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "health": {"type": "string", "pattern": r"^/"},
            # false: no version endpoint (every release then logs a warning: nothing proves what is served)
            "version": {
                "oneOf": [
                    {"type": "string", "pattern": r"^/"},
                    {"const": False},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["path"],
                        "properties": {
                            "path": {"type": "string", "pattern": r"^/"},
                            "field": {"type": "string", "pattern": r"^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$"},
                            "pattern": {"type": "string", "minLength": 1},
                        },
                    },
                ]
            },
        },
    },
    # critical tables whose rows are counted before the switch and after: fewer means data loss
    "integrity_tables": {"type": "array", "items": {"type": "string", "pattern": r"^[A-Za-z0-9_]+$"}},
    # how long the rollback triggers are watched after the release (production: the policy's by default)
    "watch_minutes": {"type": "number", "minimum": 0},
    # where this environment's announcements go (see "notifications"), and who is e-mailed
    "notify": {"type": "array", "uniqueItems": True, "items": {"enum": ["slack", "email", "statuspage"]}},
    "stakeholders": _EMAILS,
}
_NOTIFICATIONS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        # an Airflow connection of type slackwebhook (incoming webhook) or slack (API token)
        "slack": {
            "type": "object",
            "additionalProperties": False,
            "required": ["conn_id"],
            "properties": {
                "conn_id": _NAME,
                "alerts_channel": {"type": "string", "minLength": 2},
                "releases_channel": {"type": "string", "minLength": 2},
            },
        },
        # an Airflow connection of type smtp
        "email": {
            "type": "object",
            "additionalProperties": False,
            "required": ["conn_id", "from"],
            "properties": {"conn_id": _NAME, "from": _EMAIL},
        },
        # Atlassian Statuspage (REST API v1): an http connection whose password is the API key
        "statuspage": {
            "type": "object",
            "additionalProperties": False,
            "required": ["conn_id", "page_id", "component_id"],
            "properties": {
                "conn_id": _NAME,
                "page_id": {"type": "string", "pattern": r"^[A-Za-z0-9]+$"},
                "component_id": {"type": "string", "pattern": r"^[A-Za-z0-9]+$"},
            },
        },
        "attempts": {"type": "integer", "minimum": 1, "maximum": 10},
        # who hears of an incident, and after how long it is still unresolved
        "escalation": {
            "type": "object",
            "additionalProperties": False,
            "required": ["levels"],
            "properties": {
                "poll_seconds": {"type": "number", "minimum": 1},
                "levels": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 5,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "after_minutes"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "after_minutes": {"type": "number", "minimum": 0},
                            "slack": {"type": "array", "items": {"type": "string", "minLength": 2}},
                            "email": _EMAILS,
                        },
                    },
                },
            },
        },
    },
}
_WINDOW = {
    "type": "object",
    "additionalProperties": False,
    "required": ["weekdays", "start", "hours"],
    "properties": {
        "weekdays": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 1, "maximum": 7}},
        "start": {"type": "string", "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]$"},
        "hours": {"type": "number", "exclusiveMinimum": 0, "maximum": 24},
    },
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["app", "build", "environments"],
    "properties": {
        "app": {
            "type": "object",
            "additionalProperties": False,
            "required": ["name", "repository"],
            "properties": {"name": {"type": "string"}, "repository": {"type": "string", "minLength": 1}},
        },
        "build": {
            "type": "object",
            "additionalProperties": False,
            "required": ["ssh_conn_id", "path"],
            "properties": {
                "ssh_conn_id": _NAME,
                "path": _ABS_PATH,
                "commands": _COMMANDS,
                "test_commands": _COMMANDS,
                "timeout_seconds": {"type": "integer", "minimum": 10},
                "coverage_report": _RELATIVE_PATH,
                "scan_command": {"type": "string", "minLength": 1},
                # composer audit / npm audit: when their advisory database cannot be reached
                "advisories": {"enum": ["warn", "block", "off"]},
            },
        },
        # release windows that replace the policy's, per release type (e.g. another length)
        "windows": {
            "type": "object",
            "additionalProperties": False,
            "properties": {name: _WINDOW for name in RELEASE_TYPE_NAMES},
        },
        "defaults": {"type": "object", "additionalProperties": False, "properties": _ENV_SETTINGS},
        # the pre-release quality gates' thresholds; each defaults to the release type's (the seed's policy)
        "quality": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "min_coverage_percent": {"type": "number", "minimum": 0, "maximum": 100},
                "max_critical_findings": {"type": "integer", "minimum": 0},
                # false: a build without test commands passes 'all tests pass' (and coverage) with a warning
                "tests_required": {"type": "boolean"},
            },
        },
        "notifications": _NOTIFICATIONS,
        # the release report (DAG release_metrics): where it is written, how Airflow's API is reached
        "reports": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "dir": _ABS_PATH,
                "api_conn_id": _NAME,  # an http connection: host = Airflow's URL, login and password (or a token)
                "weeks": {"type": "integer", "minimum": 1, "maximum": 104},
                # where each release's notes and CHANGELOG entry are also posted (JSON), besides the folder
                "publish": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["conn_id", "endpoint"],
                    "properties": {"conn_id": _NAME, "endpoint": {"type": "string", "pattern": "^/"}},
                },
            },
        },
        # alerts from outside (POST /releases/api/alerts): the http connection whose password is their token
        "alerts": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"conn_id": _NAME},
        },
        "environments": {
            "type": "object",
            "additionalProperties": False,
            "required": list(ENVIRONMENTS),
            "properties": {
                env: {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["hosts"],
                    "properties": {
                        "hosts": {
                            "type": "array",
                            "minItems": 1,
                            "items": {
                                "type": "object",
                                "additionalProperties": False,
                                "required": ["name", "ssh_conn_id", "deploy_path", "base_url"],
                                "properties": {
                                    "name": _NAME,
                                    "ssh_conn_id": _NAME,
                                    "deploy_path": _ABS_PATH,
                                    "base_url": {"type": "string", "pattern": r"^https?://[^\s/]+(/[^\s]*)?$"},
                                    "reload_command": {"type": "string"},
                                },
                            },
                        },
                        **_ENV_SETTINGS,
                    },
                }
                for env in ENVIRONMENTS
            },
        },
    },
}

DEFAULTS: dict[str, Any] = {
    "keep_releases": 5,
    "shared_dirs": ["storage"],
    "shared_files": [".env"],
    # before going live, in the new release only (config:cache and route:cache clear their own caches first)
    "release_commands": ["config:cache", "route:cache"],
    # after going live: caches shared with the old release, and queue workers running its code
    "after_switch_commands": ["view:clear", "cache:clear", "queue:restart"],
    "smoke_tests": [],
    "min_free_mb": 500,
    "backup": {"keep": 5},
    "signoff": {},
    "claim_timeout_minutes": 240,
    "probe": {},
    "endpoints": {},
    "integrity_tables": [],
    "notify": None,  # every configured channel (the status page: production only)
    "stakeholders": [],
}
PROBE_DEFAULTS = {"seconds": 10.0, "concurrency": 2}


@dataclass(frozen=True)
class Host:
    name: str
    ssh_conn_id: str
    deploy_path: str
    base_url: str
    reload_command: str = ""

    @property
    def tools(self) -> str:
        """Where the remote scripts live on this host."""
        return f"{self.deploy_path}/.deploy/bin"


@dataclass(frozen=True)
class SmokeTest:
    name: str
    path: str
    status: int = 200
    contains: str = ""


@dataclass(frozen=True)
class Environment:
    name: str
    hosts: tuple[Host, ...]
    keep_releases: int
    shared_dirs: tuple[str, ...]
    shared_files: tuple[str, ...]
    release_commands: tuple[str, ...]
    after_switch_commands: tuple[str, ...]
    smoke_tests: tuple[SmokeTest, ...]
    min_free_mb: int
    backup_keep: int  # the database is always backed up before migrations; this many backups are kept
    backup_copy_command: str = ""  # copies each verified dump off the host; prints the copy's sha256
    approvers: tuple[str, ...] = ()  # who may sign off a release here, or approve a restore; empty: any user
    allow_self_approval: bool = False  # may whoever triggered a release approve it?
    signoff_conn_id: str = ""  # the approval service's HTTP connection (see gates.external_signoff)
    signoff_endpoint: str = "/"
    signoff_timeout_hours: float | None = None  # None: the release type's policy
    signoff_poll_seconds: int = 60
    claim_timeout_minutes: int = 240
    probe_seconds: float = 10.0
    probe_concurrency: int = 2
    probe_paths: tuple[str, ...] = ()  # default: /api/health and the smoke tests' paths
    health_path: str = "/api/health"
    version_path: str = "/api/version"  # empty: no version check (a warning on every release)
    version_field: str = "version"  # the JSON field with the version (``a.b``: nested)
    version_pattern: str = ""  # instead of a field: a regular expression on the body (its first group)
    auth_path: str = ""  # empty: no authentication check
    auth_conn_id: str = ""
    integrity_tables: tuple[str, ...] = ()
    watch_minutes: float | None = None  # None: the release type's policy in production, 0 elsewhere
    notify: tuple[str, ...] = ()  # the channels of this environment's announcements
    stakeholders: tuple[str, ...] = ()  # e-mailed the announcements (when notify has email)

    def watch_seconds(self, rtype: ReleaseType) -> float:
        if self.watch_minutes is not None:
            return self.watch_minutes * 60
        return rtype.watch_minutes * 60 if self.name == "production" else 0.0

    @property
    def primary(self) -> Host:
        """The host that runs what happens once per environment (migrations, backups)."""
        return self.hosts[0]


@dataclass(frozen=True)
class Build:
    ssh_conn_id: str
    path: str
    commands: tuple[str, ...]
    test_commands: tuple[str, ...]
    timeout_seconds: int
    coverage_report: str = ""  # clover XML written by the test commands, relative to the build
    scan_command: str = ""  # the security scanner, run in the built release; prints JSON findings
    advisories: str = "warn"  # composer/npm audit unreachable: warn (said), block (the scan fails), off

    @property
    def tools(self) -> str:
        return f"{self.path}/.deploy/bin"


@dataclass(frozen=True)
class Quality:
    """The quality gates' thresholds from the environment file; None: the release type's (the policy's)."""

    min_coverage_percent: float | None = None
    max_critical_findings: int | None = None
    tests_required: bool = True

    def thresholds(self, rtype: ReleaseType) -> dict[str, Any]:
        """The thresholds a release of ``rtype`` is held to, and which of them differ from the policy."""
        coverage = rtype.min_coverage_percent if self.min_coverage_percent is None else self.min_coverage_percent
        critical = rtype.max_critical_findings if self.max_critical_findings is None else self.max_critical_findings
        changed = []
        if coverage != rtype.min_coverage_percent:
            changed.append(f"coverage > {coverage:g}% (policy: {rtype.min_coverage_percent:g}%)")
        if critical != rtype.max_critical_findings:
            changed.append(f"critical findings <= {critical} (policy: {rtype.max_critical_findings})")
        if not self.tests_required:
            changed.append("tests not required (policy: required)")
        return {
            "min_coverage_percent": coverage,
            "max_critical_findings": critical,
            "tests_required": self.tests_required,
            "changed": changed,
        }


@dataclass(frozen=True)
class Level:
    """One level of the escalation matrix: who hears of an incident still unresolved after ``after_minutes``."""

    number: int
    name: str
    after_minutes: float
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


@dataclass(frozen=True)
class Notifications:
    """Where messages go (empty ids: that channel is not configured) and the escalation matrix."""

    slack_conn_id: str = ""
    alerts_channel: str = "#alerts"
    releases_channel: str = "#releases"
    email_conn_id: str = ""
    email_from: str = ""
    statuspage_conn_id: str = ""
    statuspage_page_id: str = ""
    statuspage_component_id: str = ""
    attempts: int = 3
    escalation: tuple[Level, ...] = ()
    escalation_poll_seconds: float = 60.0

    def connection_ids(self) -> list[str]:
        return [c for c in (self.slack_conn_id, self.email_conn_id, self.statuspage_conn_id) if c]

    def configured(self, channel: str) -> bool:
        conn_ids = {"slack": self.slack_conn_id, "email": self.email_conn_id, "statuspage": self.statuspage_conn_id}
        return bool(conn_ids[channel])


@dataclass(frozen=True)
class Config:
    source: str
    app_name: str
    repository: str
    build: Build
    environments: dict[str, Environment]
    windows: dict[str, Window] = field(default_factory=dict)
    notifications: Notifications = field(default_factory=Notifications)
    reports_dir: str = ""  # "": $AIRFLOW_HOME/reports
    reports_api_conn_id: str = "airflow_api"
    reports_weeks: int = 12
    quality: Quality = field(default_factory=Quality)
    publish_conn_id: str = ""  # an http connection: release notes and CHANGELOG entries are posted there
    publish_endpoint: str = ""
    alerts_conn_id: str = "release_alerts"  # its password is the token an alert webhook must send

    def reports_path(self) -> Path:
        """The reports folder: ``reports.dir``, or $AIRFLOW_HOME/reports."""
        home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
        return Path(self.reports_dir or f"{home}/reports")

    def window(self, rtype: ReleaseType) -> Window | None:
        """The release window of a type: the file's override, or the policy's."""
        return self.windows.get(rtype.name, rtype.window)

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            raise ConfigError(
                f"{self.source}: unknown environment {name!r}; the file defines {', '.join(self.environments)}"
            )
        return self.environments[name]

    def connection_ids(self, environments: tuple[str, ...] | list[str]) -> list[str]:
        ids = [self.build.ssh_conn_id]
        for name in environments:
            env = self.environment(name)
            ids += [h.ssh_conn_id for h in env.hosts]
            ids += [c for c in (env.auth_conn_id, env.signoff_conn_id) if c]
        return list(dict.fromkeys(ids))


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG)


def _key(path: Any) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse(data: Any, source: str) -> Config:
    """Validate the parsed YAML of an environment file and build the typed config."""
    environments_raw = data.get("environments") if isinstance(data, dict) else None
    for env_name, env in (environments_raw if isinstance(environments_raw, dict) else {}).items():
        if isinstance(env, dict) and "url" in (env.get("signoff") or {}):
            raise ConfigError(
                f"{source}: key environments.{env_name}.signoff.url: the approval service is now an Airflow HTTP "
                "connection (its URL and credentials live there): write service: {conn_id: <connection>, endpoint: "
                "<path>} and create the connection"
            )
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"{source}: key {_key(e.absolute_path)}: {e.message}" for e in errors[:5]]
        raise ConfigError("invalid environment file\n" + "\n".join(lines))

    defaults = {**DEFAULTS, **data.get("defaults", {})}
    environments = {}
    for env_name in ENVIRONMENTS:
        raw = {**defaults, **data["environments"][env_name]}
        names = [h["name"] for h in raw["hosts"]]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ConfigError(f"{source}: key environments.{env_name}.hosts: host name {duplicates[0]!r} is used twice")
        backup = {**DEFAULTS["backup"], **raw.get("backup", {})}
        signoff = raw["signoff"]
        health = raw["endpoints"].get("health", "/api/health")
        version = raw["endpoints"].get("version", "/api/version")
        version = {"path": version} if isinstance(version, str) else version or {}
        if version.get("pattern"):
            try:
                re.compile(version["pattern"])
            except re.error as err:
                raise ConfigError(
                    f"{source}: key environments.{env_name}.endpoints.version.pattern: not a regular expression: {err}"
                ) from None
        environments[env_name] = Environment(
            name=env_name,
            hosts=tuple(Host(**h) for h in raw["hosts"]),
            keep_releases=raw["keep_releases"],
            shared_dirs=tuple(raw["shared_dirs"]),
            shared_files=tuple(raw["shared_files"]),
            release_commands=tuple(raw["release_commands"]),
            after_switch_commands=tuple(raw["after_switch_commands"]),
            smoke_tests=tuple(SmokeTest(**t) for t in raw["smoke_tests"]),
            min_free_mb=raw["min_free_mb"],
            backup_keep=backup["keep"],
            backup_copy_command=backup.get("copy_command", ""),
            approvers=tuple(signoff.get("approvers", ())),
            allow_self_approval=signoff.get("allow_self_approval", False),
            signoff_conn_id=signoff.get("service", {}).get("conn_id", ""),
            signoff_endpoint=signoff.get("service", {}).get("endpoint", "/"),
            signoff_timeout_hours=signoff.get("timeout_hours"),
            signoff_poll_seconds=signoff.get("poll_seconds", 60),
            claim_timeout_minutes=raw["claim_timeout_minutes"],
            probe_seconds={**PROBE_DEFAULTS, **raw["probe"]}["seconds"],
            probe_concurrency={**PROBE_DEFAULTS, **raw["probe"]}["concurrency"],
            probe_paths=tuple(
                raw["probe"].get("paths") or dict.fromkeys([health, *(t["path"] for t in raw["smoke_tests"])])
            ),
            health_path=health,
            version_path=version.get("path", ""),
            version_field=version.get("field", "version"),
            version_pattern=version.get("pattern", ""),
            auth_path=raw.get("auth", {}).get("path", ""),
            auth_conn_id=raw.get("auth", {}).get("conn_id", ""),
            integrity_tables=tuple(raw["integrity_tables"]),
            watch_minutes=raw.get("watch_minutes"),
            notify=tuple(raw["notify"] or ()),
            stakeholders=tuple(raw["stakeholders"]),
        )
    build = data["build"]
    notifications = parse_notifications(data.get("notifications", {}), source)
    for name, env in environments.items():
        if data["environments"][name].get("notify", data.get("defaults", {}).get("notify")) is None:
            channels = ("slack", "email") + (("statuspage",) if name == "production" else ())
            env = environments[name] = replace(env, notify=tuple(c for c in channels if notifications.configured(c)))
        for channel in env.notify:
            if not notifications.configured(channel):
                raise ConfigError(
                    f"{source}: key environments.{env.name}.notify: {channel} is not configured under "
                    f"notifications.{channel}: configure it or remove it from the list"
                )
    return Config(
        source=source,
        app_name=data["app"]["name"],
        repository=data["app"]["repository"],
        build=Build(
            ssh_conn_id=build["ssh_conn_id"],
            path=build["path"],
            commands=tuple(build.get("commands", [])),
            test_commands=tuple(build.get("test_commands", [])),
            timeout_seconds=build.get("timeout_seconds", 600),
            coverage_report=build.get("coverage_report", ""),
            scan_command=build.get("scan_command", ""),
            advisories=build.get("advisories", "warn"),
        ),
        environments=environments,
        windows={
            name: Window(weekdays=tuple(w["weekdays"]), start=w["start"], hours=w["hours"])
            for name, w in data.get("windows", {}).items()
        },
        notifications=notifications,
        reports_dir=data.get("reports", {}).get("dir", ""),
        reports_api_conn_id=data.get("reports", {}).get("api_conn_id", "airflow_api"),
        reports_weeks=data.get("reports", {}).get("weeks", 12),
        quality=Quality(**data.get("quality", {})),
        publish_conn_id=data.get("reports", {}).get("publish", {}).get("conn_id", ""),
        publish_endpoint=data.get("reports", {}).get("publish", {}).get("endpoint", ""),
        alerts_conn_id=data.get("alerts", {}).get("conn_id", "release_alerts"),
    )


def parse_notifications(raw: dict[str, Any], source: str) -> Notifications:
    slack, email, page = raw.get("slack", {}), raw.get("email", {}), raw.get("statuspage", {})
    escalation = raw.get("escalation", {})
    levels = tuple(
        Level(
            number=i,
            name=lv["name"],
            after_minutes=lv["after_minutes"],
            slack=tuple(lv.get("slack", ())),
            email=tuple(lv.get("email", ())),
        )
        for i, lv in enumerate(escalation.get("levels", []), start=1)
    )
    for earlier, later in zip(levels, levels[1:], strict=False):
        if later.after_minutes <= earlier.after_minutes:
            raise ConfigError(
                f"{source}: key notifications.escalation.levels[{later.number - 1}].after_minutes: level "
                f"{later.number} ({later.name}) must come later than level {earlier.number} "
                f"({earlier.after_minutes:g} min)"
            )
    for lv in levels:
        for channel, label, named, configured in (
            ("slack", "Slack", lv.slack, slack),
            ("email", "e-mail", lv.email, email),
        ):
            if named and not configured:
                raise ConfigError(
                    f"{source}: key notifications.escalation: level {lv.number} names {label} recipients "
                    f"but notifications.{channel} is not configured"
                )
    return Notifications(
        slack_conn_id=slack.get("conn_id", ""),
        alerts_channel=slack.get("alerts_channel", "#alerts"),
        releases_channel=slack.get("releases_channel", "#releases"),
        email_conn_id=email.get("conn_id", ""),
        email_from=email.get("from", ""),
        statuspage_conn_id=page.get("conn_id", ""),
        statuspage_page_id=page.get("page_id", ""),
        statuspage_component_id=page.get("component_id", ""),
        attempts=raw.get("attempts", 3),
        escalation=levels,
        escalation_poll_seconds=escalation.get("poll_seconds", 60.0),
    )


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (plain YAML keeps the last one silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if key in seen:
                raise ConfigError(
                    f"key {key!r} appears twice in one mapping (lines {seen[key]} and {line}): YAML would keep only "
                    "the second silently; remove or merge one of them"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load(path: str | Path | None = None) -> Config:
    """Read and validate the environment file (``LARAVEL_RELEASE_CONFIG`` or the shipped one)."""
    path = Path(path) if path else config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: environment file not found; set {CONFIG_ENV_VAR} to your file or restore {DEFAULT_CONFIG}"
        ) from None
    except PermissionError:
        raise ConfigError(
            f"{path}: environment file not readable by this user (uid {os.getuid()}); "
            "make it readable by the user Airflow's workers run as (e.g. chmod o+r or chgrp)"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not an environment file; point {CONFIG_ENV_VAR} at the file") from None
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err.reason} at byte {err.start}); save it as UTF-8") from None
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  # a SafeLoader subclass
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    return parse(data, str(path))
