"""steps/metrics.py: which release runs a review may be opened for."""

from __future__ import annotations

import pytest

from laravel_release.steps.metrics import review_refusal


def test_a_release_that_went_live_with_the_named_version_is_reviewed():
    assert review_refusal("success", "success", "v1.4.0", "v1.4.0") is None
    # the review is opened by the release's last task, while its run is still running
    assert review_refusal("running", "success", "v1.4.0", "v1.4.0") is None


@pytest.mark.parametrize(
    ("run_state", "finished", "released", "words"),
    [
        (None, None, None, "no such run"),
        ("failed", "success", "v1.4.0", "the run is failed"),
        ("running", None, "v1.4.0", "its finish_release is not run: it did not go live"),
        ("success", "skipped", "v1.4.0", "its finish_release is skipped"),
        ("success", "success", "v1.3.0", "the run released v1.3.0, not v1.4.0"),
    ],
)
def test_anything_else_is_refused_with_why(run_state, finished, released, words):
    assert words in review_refusal(run_state, finished, released, "v1.4.0")
