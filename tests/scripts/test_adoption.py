"""A host another tool deployed for years: its releases, without this project's metadata, are adopted."""

from __future__ import annotations

import json

import pytest

from tests.scripts.test_scripts import build, deliver, deploy, foreign

pytestmark = pytest.mark.integration


def deployed_by_another_tool(build_host, target, repository, tag: str, name: str, live: bool = True) -> None:
    """A release as Deployer leaves one: releases/<n>, shared files linked in, no .release.json."""
    assert build(build_host, repository, tag, name).code == 0
    up = deliver(build_host, target, name)
    app = f"{target.base}/app"
    release = f"{app}/releases/{name}"
    steps = [
        f"mkdir -p {release} {app}/shared/storage",
        f"tar -xzf {up} -C {release}",
        f"rm -f {release}/.release.json {up} {up}.sha256",
        f"rm -rf {release}/storage && ln -s {app}/shared/storage {release}/storage",
        f"ln -sfn {app}/shared/.env {release}/.env",
    ]
    if live:
        steps.append(f"ln -sfn {release} {app}/current")  # an absolute link, as some tools write it
    assert target.ssh(" && ".join(steps)).code == 0


def test_status_reports_another_tool_s_releases_with_their_version_and_changes_nothing(
    build_host, staging_host, repository
):
    app = f"{staging_host.base}/app"
    deployed_by_another_tool(build_host, staging_host, repository, "v1.0.0", "1", live=False)
    deployed_by_another_tool(build_host, staging_host, repository, "v1.1.0", "2")
    staging_host.ssh(f"echo > {app}/releases/1/VERSION")  # a release whose version no file tells
    status = staging_host.run("status", "--deploy-path", app)
    assert status.code == 0, status.stderr
    assert status.json["current"] == "2" and status.json["version"] == "v1.1.0"
    assert [(r["release"], r["version"], r["origin"]) for r in status.json["releases"]] == [
        ("2", "v1.1.0", "foreign"),
        ("1", "unknown", "foreign"),
    ]
    assert not staging_host.exists(f"{app}/.deploy/adopted")


def test_the_first_release_adopts_the_live_one_as_its_safety_net(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deployed_by_another_tool(build_host, staging_host, repository, "v1.0.0", "1")
    foreign(f"chown -R www-data:deploy {app}/shared/storage && chmod -R 2775 {app}/shared/storage")
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    status = staging_host.run("status", "--deploy-path", app).json
    assert status["current"] == "r2" and status["previous_good"] == "1"
    assert [(r["release"], r["origin"]) for r in status["releases"]] == [("r2", "built"), ("1", "adopted")]
    adopted = json.loads(staging_host.ssh(f"cat {app}/.deploy/adopted/1.json").stdout)
    assert adopted["version"] == "v1.0.0" and adopted["adopted"] is True
    assert not staging_host.exists(f"{app}/releases/1/.release.json")  # the adopted folder is not written to
    # the break-glass rollback goes back to it, by default and named by the host's configured name
    r = staging_host.ssh(f"DEPLOY_HOST_NAME=web-7 {staging_host.base}/bin/rollback.sh --deploy-path {app}")
    assert r.code == 0, r.stderr
    assert r.json["to"] == "1" and r.json["version"] == "v1.0.0" and r.json["host"] == "web-7"
    assert staging_host.ssh(f"readlink {app}/current").stdout.strip() == "releases/1"


def test_a_release_another_tool_left_can_be_named_as_a_rollback_target(build_host, staging_host, repository):
    app = f"{staging_host.base}/app"
    deployed_by_another_tool(build_host, staging_host, repository, "v1.0.0", "20250106100000", live=False)
    deploy(build_host, staging_host, repository, "v1.1.0", "r2")
    deploy(build_host, staging_host, repository, "v1.2.0", "r3")
    r = staging_host.run("rollback", "--deploy-path", app, "--to", "20250106100000", "--reason", "INC-3")
    assert r.code == 0, r.stderr
    assert r.json["to"] == "20250106100000" and r.json["version"] == "v1.0.0"
    wrong = staging_host.run("rollback", "--deploy-path", app, "--to", "no-such")
    assert wrong.code == 3 and "kept: " in wrong.json["error"] and "20250106100000" in wrong.json["error"]
