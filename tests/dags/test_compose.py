"""docker-compose.yaml: the official shape, this project's folders mounted, every referenced path present."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
AIRFLOW = ["airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-worker", "airflow-triggerer"]


def test_the_distributed_engine_services():
    assert set(COMPOSE["services"]) == {"postgres", "redis", "airflow-init", *AIRFLOW}
    for name in AIRFLOW:
        service = COMPOSE["services"][name]
        assert service["image"].startswith("${AIRFLOW_IMAGE_NAME:-apache/airflow:3.3."), name
        assert service["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert service["environment"]["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert service["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert "healthcheck" in service


def test_the_project_folders_are_mounted_and_exist():
    mounts = COMPOSE["services"]["airflow-scheduler"]["volumes"]
    targets = {m.rsplit(":", 1)[1]: m.rsplit(":", 1)[0].replace("${AIRFLOW_PROJ_DIR:-.}/", "") for m in mounts}
    for folder in ("dags", "plugins", "include"):
        assert targets[f"/opt/airflow/{folder}"] == folder
        assert (ROOT / folder).is_dir()
    config = COMPOSE["services"]["airflow-worker"]["environment"]["LARAVEL_RELEASE_CONFIG"]
    assert (ROOT / config.split(":-")[1].rstrip("}").replace("/opt/airflow/", "")).is_file()


def test_the_compose_configuration_is_the_one_the_native_distributed_engine_runs():
    """dev/airflow.sh start --distributed starts the same services with the same settings, natively."""
    script = (ROOT / "dev" / "airflow.sh").read_text()
    for command in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert COMPOSE["services"][f"airflow-{command.replace('api-server', 'apiserver')}"]["command"] == command
        assert command in script
    assert COMPOSE["services"]["airflow-worker"]["command"] == "celery worker" and '"celery worker"' in script
    env = COMPOSE["services"]["airflow-scheduler"]["environment"]
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW__API_AUTH__JWT_SECRET:?")  # shared, required
    for setting in (
        "AIRFLOW__CORE__EXECUTOR=CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__API_AUTH__JWT_SECRET",
    ):
        assert setting in script
