"""The gate scripts against a real host: the lock, the freeze, the security scan."""

from __future__ import annotations

import json
import shlex

import pytest

from tests.registry import npm_project, npm_registry
from tests.scripts.test_scripts import build

pytestmark = pytest.mark.integration

RUN_A, RUN_B = "release_feature/manual__a", "release_hotfix/manual__b"


def lock(host, *args: str):
    return host.run("lock", "--deploy-path", f"{host.base}/app", *args)


def test_the_lock_has_one_owner_at_a_time(staging_host):
    taken = lock(staging_host, "--owner", RUN_A, "--by", "feature v1.2.0")
    assert taken.code == 0 and taken.json["locked"] and taken.json["held_by"] == RUN_A
    assert lock(staging_host, "--owner", RUN_A).code == 0  # its owner may take it again (a retried task)
    refused = lock(staging_host, "--owner", RUN_B)
    assert refused.code == 6
    assert refused.json["held_by"] == RUN_A and refused.json["label"] == "feature v1.2.0" and refused.json["since"]
    assert lock(staging_host, "--status").json["held_by"] == RUN_A


def test_only_the_owner_releases_and_a_break_names_the_owner_it_clears(staging_host):
    assert lock(staging_host, "--owner", RUN_A).code == 0
    assert lock(staging_host, "--release", "--owner", RUN_B).code == 6  # not B's lock: left alone
    assert lock(staging_host, "--status").json["held_by"] == RUN_A
    # a break for an owner that no longer holds it changes nothing either
    assert lock(staging_host, "--break", "--owner", RUN_B).code == 6
    assert lock(staging_host, "--break", "--owner", RUN_A).code == 0
    assert lock(staging_host, "--status").json["locked"] is False
    assert lock(staging_host, "--owner", RUN_B).code == 0
    assert lock(staging_host, "--release", "--owner", RUN_B).json["locked"] is False
    journal = staging_host.ssh(f"cat {staging_host.base}/app/.deploy/lock.log").stdout
    assert [line.split('"event": "')[1].split('"')[0] for line in journal.splitlines()] == [
        "take",
        "break",
        "take",
        "release",
    ]


def test_two_runs_asking_at_the_same_moment_get_one_lock(staging_host):
    script = f"{staging_host.base}/bin/lock.sh"
    both = staging_host.ssh(
        f"for o in one two three four; do ({script} --deploy-path {staging_host.base}/app --owner run/$o"
        " >/dev/null 2>&1; echo $?) & done; wait"
    )
    assert sorted(both.stdout.split()) == ["0", "6", "6", "6"]


def test_a_freeze_says_who_and_why_and_is_cleared_by_name(staging_host):
    path = ["--deploy-path", f"{staging_host.base}/app"]
    assert staging_host.run("freeze", *path).json["frozen"] is False
    refused = staging_host.run("freeze", *path, "--set", "--by", "alice")
    assert refused.code == 2 and "--reason is required" in refused.stderr
    frozen = staging_host.run("freeze", *path, "--set", "--reason", "INC-42 checkout errors", "--by", "alice")
    assert frozen.code == 0 and frozen.json["frozen"] is True
    assert frozen.json["freeze"]["by"] == "alice" and frozen.json["freeze"]["reason"] == "INC-42 checkout errors"
    assert staging_host.run("freeze", *path).json["freeze"]["reason"] == "INC-42 checkout errors"
    cleared = staging_host.run("freeze", *path, "--clear", "--by", "bob")
    assert cleared.code == 0 and cleared.json["frozen"] is False
    assert staging_host.run("freeze", *path, "--clear", "--by", "bob").code == 0  # clearing twice is fine
    log = staging_host.ssh(f"cat {staging_host.base}/app/.deploy/freeze.log").stdout.splitlines()
    assert len(log) == 2 and '"by": "alice"' in log[0] and '"by": "bob"' in log[1]


def test_a_rollback_clears_only_the_freeze_it_set(staging_host):
    path = ["--deploy-path", f"{staging_host.base}/app"]
    staging_host.run("freeze", *path, "--set", "--reason", "INC-7 payments, no releases", "--by", "alice")
    kept = staging_host.run("freeze", *path, "--clear", "--by", "rollback/run-1", "--only-by", "rollback/run-1")
    assert kept.code == 0 and kept.json["frozen"] is True and kept.json["freeze"]["by"] == "alice"
    assert "kept: the freeze was set by someone else" in kept.stderr
    staging_host.run("freeze", *path, "--set", "--reason", "rollback of r2", "--by", "rollback/run-2")
    lifted = staging_host.run("freeze", *path, "--clear", "--by", "rollback/run-2", "--only-by", "rollback/run-2")
    assert lifted.code == 0 and lifted.json["frozen"] is False


@pytest.fixture
def clean_build(build_host, repository):
    assert build(build_host, repository, "v1.0.0", "scan-clean").code == 0
    return f"{build_host.base}/builds/artifacts/scan-clean.tar.gz"


def test_a_clean_build_passes_the_scan(build_host, clean_build):
    scanned = build_host.run("scan", "--artifact", clean_build)
    assert scanned.code == 0, scanned.stderr
    assert scanned.json["critical"] == 0


def test_secrets_in_the_build_are_critical_and_stop_it(build_host, clean_build):
    leaky = f"{build_host.base}/builds/artifacts/scan-leaky.tar.gz"
    made = build_host.ssh(
        f"d=$(mktemp -d) && tar -xzf {clean_build} -C $d && "
        "printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nabc\\n' > $d/storage/id_ed25519 && "
        "echo 'DB_PASSWORD=hunter2' > $d/.env && "
        f"tar -czf {leaky} -C $d . && rm -rf $d"
    )
    assert made.code == 0, made.stderr
    scanned = build_host.run("scan", "--artifact", leaky)
    assert scanned.code == 5
    assert "2 critical finding(s), at most 0 allowed" in scanned.json["error"]
    assert "private key in storage/id_ed25519" in scanned.stderr
    assert "environment file shipped in the build" in scanned.stderr
    assert build_host.run("scan", "--artifact", leaky, "--max-critical", "2").code == 0


def test_an_extra_scanner_adds_its_findings(build_host, clean_build):
    scanner = """echo '{"critical": 1, "high": 3, "findings": ["CVE-2026-0001 in laravel/framework"]}'"""
    scanned = build_host.run("scan", "--artifact", clean_build, "--run", scanner)
    assert scanned.code == 5 and "1 critical finding(s)" in scanned.json["error"]
    broken = build_host.run("scan", "--artifact", clean_build, "--run", "echo not json")
    assert broken.code == 4 and "last line is not" in broken.json["error"]


def build_with(build_host, clean_build, name: str, files: dict[str, str]) -> str:
    """The clean build with ``files`` added, packed as the artifact ``name``."""
    artifact = f"{build_host.base}/builds/artifacts/{name}.tar.gz"
    writes = " && ".join(f"printf %s {shlex.quote(text)} > $d/{path}" for path, text in files.items())
    made = build_host.ssh(
        f"d=$(mktemp -d) && tar -xzf {clean_build} -C $d && {writes} && tar -czf {artifact} -C $d . && rm -rf $d"
    )
    assert made.code == 0, made.stderr
    return artifact


# a Composer project whose advisory database (its only repository) does not answer
LOCKED = {
    "composer.json": json.dumps(
        {
            "name": "zenamanage/zenamanage",
            "require": {"laravel/framework": "8.0.0"},
            "repositories": [{"packagist.org": False}, {"type": "composer", "url": "https://127.0.0.1:9"}],
        }
    ),
    "composer.lock": json.dumps(
        {
            "content-hash": "x",
            "packages": [{"name": "laravel/framework", "version": "v8.0.0", "type": "library"}],
            "packages-dev": [],
            "aliases": [],
            "minimum-stability": "stable",
            "stability-flags": [],
            "prefer-stable": False,
            "prefer-lowest": False,
            "platform": [],
            "platform-dev": [],
        }
    ),
}


def test_an_advisory_database_out_of_reach_is_said_and_the_configuration_decides(build_host, clean_build):
    artifact = build_with(build_host, clean_build, "scan-offline", LOCKED)
    warned = build_host.run("scan", "--artifact", artifact)
    assert warned.code == 0, warned.stderr
    assert warned.json["advisories"].startswith("unreachable: composer audit: ")
    assert "the advisory database could not be reached" in warned.stderr and "(build.advisories: warn)" in warned.stderr
    blocked = build_host.run("scan", "--artifact", artifact, "--advisories", "block")
    assert blocked.code == 6
    assert "set build.advisories: warn to release without that check" in blocked.json["error"]
    assert build_host.run("scan", "--artifact", artifact, "--advisories", "off").json["advisories"] == "off"
    assert build_host.run("scan", "--artifact", clean_build).json["advisories"] == "checked"  # nothing locked


def test_npm_audit_s_critical_advisories_stop_the_build(build_host, clean_build):
    with npm_registry() as registry:
        files = npm_project(registry)
        scanned = build_host.run("scan", "--artifact", build_with(build_host, clean_build, "scan-npm", files))
    assert scanned.code == 5, scanned.stderr
    assert "1 critical finding(s), at most 0 allowed: 1 critical finding(s) from npm audit" in scanned.json["error"]
    assert "npm audit: 1 critical, 0 high advisory(ies)" in scanned.stderr


def test_a_live_release_is_audited_where_it_is_for_its_advisories_only(build_host, clean_build):
    folder = f"{build_host.base}/live"
    with npm_registry() as registry:
        files = {**npm_project(registry), ".env": "APP_KEY=not-a-finding-here"}
        writes = " && ".join(f"printf %s {shlex.quote(text)} > {folder}/{path}" for path, text in files.items())
        assert build_host.ssh(f"mkdir -p {folder} && {writes} && chmod -R a-w {folder}").code == 0
        audited = build_host.run("scan", "--dir", folder, "--advisories-only", "--max-critical", "1000000")
        registry.advisories = False  # nothing known (yet) against it
        clean = build_host.run("scan", "--dir", folder, "--advisories-only")
    assert audited.code == 0, audited.stderr
    assert audited.json["critical"] == 1 and audited.json["findings"] == ["1 critical finding(s) from npm audit"]
    assert audited.json["advisories"] == "checked"
    assert clean.code == 0 and clean.json["critical"] == 0
    assert build_host.ssh(f"ls -A {folder}").stdout.split() == sorted(files)  # nothing written there
    assert build_host.run("scan", "--dir", f"{folder}/nothing").code == 3
