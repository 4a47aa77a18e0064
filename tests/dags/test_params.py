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


def test_a_version_is_required(dags):
    with pytest.raises(ParamValidationError):
        validate(dags["release_major"], {})


def test_a_hotfix_needs_a_reason(dags):
    with pytest.raises(ParamValidationError, match="reason"):
        validate(dags["release_hotfix"], {"version": "v1.4.1"})
    with pytest.raises(ParamValidationError, match="reason"):
        validate(dags["release_hotfix"], {"version": "v1.4.1", "reason": "fix"})
    assert validate(dags["release_hotfix"], {"version": "v1.4.1", "reason": "CVE-2026-1234 in login"})
