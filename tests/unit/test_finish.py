"""Publishing a release's notes and CHANGELOG entry (the folder; the post is an http connection's)."""

from __future__ import annotations

import dataclasses

from laravel_release.steps import finish

ENTRY = "## [v1.5.0] - 2026-12-06\n\n### Changed\n\n- CSV export\n"


def test_the_changelog_gets_each_version_once_newest_first():
    first = finish.with_entry("", "v1.4.0", ENTRY.replace("1.5.0", "1.4.0"))
    assert first.startswith("# Changelog\n") and "## [v1.4.0]" in first
    both = finish.with_entry(first, "v1.5.0", ENTRY)
    assert both.index("## [v1.5.0]") < both.index("## [v1.4.0]")
    assert finish.with_entry(both, "v1.5.0", ENTRY) == both  # a rerun adds nothing


def test_publishing_writes_the_changelog_and_the_notes_into_the_reports_folder(tmp_path, monkeypatch):
    cfg = finish.config.load()
    monkeypatch.setattr(finish.config, "load", lambda: dataclasses.replace(cfg, reports_dir=str(tmp_path)))
    notes = "## v1.5.0 (since v1.4.0)\n\n- CSV export\n"
    done = finish.publish_release_notes.function({"version": "v1.5.0"}, notes, ENTRY)
    assert done == {
        "changelog": f"{tmp_path}/CHANGELOG.md",
        "notes": f"{tmp_path}/release-notes/v1.5.0.md",
        "posted": "not configured",
    }
    assert (tmp_path / "release-notes/v1.5.0.md").read_text() == notes
    assert "- CSV export" in (tmp_path / "CHANGELOG.md").read_text()


def test_an_announcement_carries_the_changes_and_says_how_many_more():
    notes = "## v2\n\n" + "".join(f"- change {i}\n" for i in range(20)) + "\nTests: ok\n"
    lines = finish.notes_lines(notes)
    assert lines[0] == "Change: change 0" and len(lines) == 16
    assert lines[-1] == "Change: ... and 5 more (see the release notes)"
