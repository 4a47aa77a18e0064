"""Preflight's pure parts: the script it sends over SSH, and its table."""

from __future__ import annotations

import subprocess

from laravel_release import preflight


def test_the_script_sent_over_ssh_is_self_contained_and_valid_bash():
    script = preflight.remote_script("preflight")
    assert '. "$(dirname "$0")/lib.sh"' not in script and "VERB=preflight" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_the_table_says_what_holds_and_for_each_failure_what_to_do():
    checks = [
        preflight.Check("web1", "ssh login", True, "deploy@web1:22, host key pinned"),
        preflight.Check("web1", "reload", False, "sudo asks deploy for a password", "allow it in sudoers"),
    ]
    assert preflight.table("production", checks).splitlines() == [
        "preflight of production: 1 to fix",
        "web1  ssh login  ok    deploy@web1:22, host key pinned",
        "web1  reload     FAIL  sudo asks deploy for a password",
        "                       fix: allow it in sudoers",
    ]
