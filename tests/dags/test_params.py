"""The trigger form refuses bad input before any task runs (UI, REST and CLI share these schemas)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def dags():
    return DagBag(dag_folder=str(ROOT / "dags")).dags


def validate(dag, conf):
    """What Airflow does with a trigger's conf: merge it into the DAG's params and validate."""
    params = copy.deepcopy(dag.params)
    params.update(conf)
    return params.validate()


def test_a_good_version_passes(dags):
    assert validate(dags["release_feature"], {"version": "v1.4.0"})["version"] == "v1.4.0"


@pytest.mark.parametrize("version", ["1.4.0", "v1.4", "latest", "v1.4.0; rm -rf /", ""])
def test_a_malformed_version_is_refused(dags, version):
    with pytest.raises(ParamValidationError, match="version"):
        validate(dags["release_feature"], {"version": version})


def test_a_version_is_required_for_a_hotfix(dags):
    with pytest.raises(ParamValidationError):
        validate(dags["release_hotfix"], {"reason": "CVE-2026-1234 in login"})


def test_scheduled_types_accept_no_version_for_their_scheduled_runs(dags):
    """A run at a window's opening has no version; one triggered without a version is refused by plan_release."""
    assert validate(dags["release_major"], {})["version"] is None


@pytest.mark.parametrize("reason", ["", "urgent", "   "])
def test_a_window_override_without_a_reason_is_refused_at_trigger_time(dags, reason):
    with pytest.raises(ParamValidationError, match="window_override"):
        validate(dags["release_feature"], {"version": "v1.4.0", "window_override": reason})


def test_a_window_override_with_a_reason_passes(dags):
    conf = {"version": "v1.4.0", "window_override": "INC-7: invoices are wrong for every customer"}
    assert validate(dags["release_feature"], conf)["window_override"] == conf["window_override"]
    assert validate(dags["release_feature"], {"version": "v1.4.0"})["window_override"] is None
    assert "window_override" not in dags["release_hotfix"].params  # a hotfix has no window


def test_the_freeze_form(dags):
    dag = dags["deployment_freeze"]
    assert validate(dag, {"environment": "production", "action": "freeze", "reason": "INC-42 checkout errors"})
    with pytest.raises(ParamValidationError, match="environment"):
        validate(dag, {"environment": "prod", "action": "freeze", "reason": "INC-42 checkout errors"})
    with pytest.raises(ParamValidationError, match="action"):
        validate(dag, {"environment": "production", "action": "thaw"})


def test_a_hotfix_needs_a_reason(dags):
    with pytest.raises(ParamValidationError, match="reason"):
        validate(dags["release_hotfix"], {"version": "v1.4.1"})
    with pytest.raises(ParamValidationError, match="reason"):
        validate(dags["release_hotfix"], {"version": "v1.4.1", "reason": "fix"})
    assert validate(dags["release_hotfix"], {"version": "v1.4.1", "reason": "CVE-2026-1234 in login"})


FREE_TEXT = ("reason", "window_override", "destructive_migrations", "waiver_reason")


def test_every_free_text_field_needs_a_character_that_is_not_a_space(dags):
    """A reason of spaces, tabs or newlines says nothing: refused in every DAG that asks for one."""
    checked = []
    for dag_id, dag in sorted(dags.items()):
        for key in FREE_TEXT:
            if key not in dag.params:
                continue
            conf = {"version": "v1.4.1", "environment": "production", "reason": "INC-42 checkout errors"}
            conf = {k: v for k, v in conf.items() if k in dag.params}
            with pytest.raises(ParamValidationError, match=key):
                validate(dag, {**conf, key: " \t \n        "})
            checked.append(f"{dag_id}.{key}")
    assert {"release_hotfix.reason", "rollback.reason", "deployment_freeze.reason"} <= set(checked)
    assert "release_feature.window_override" in checked


def test_a_version_longer_than_64_characters_is_refused(dags):
    longest = "v1.4.0-" + "a" * 57
    assert validate(dags["release_feature"], {"version": longest})["version"] == longest
    with pytest.raises(ParamValidationError, match="version"):
        validate(dags["release_feature"], {"version": longest + "a"})
    with pytest.raises(ParamValidationError, match="version"):
        validate(dags["release_hotfix"], {"version": longest + "a", "reason": "CVE-2026-1234 in login"})
