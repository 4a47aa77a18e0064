"""docker-compose.yaml: the official shape, this project's folders mounted, every referenced path present."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
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


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error}, as `docker compose config` applies them."""

    def one(match: re.Match) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        if env.get(name):
            return env[name]
        if op == ":?":
            raise LookupError(f"required variable {name} is missing a value: {arg}")
        return arg if op == ":-" else ""

    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:[-?])([^}]*))?\}", one, value)


def strings(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings(value)
    elif isinstance(node, str):
        yield node


SECRETS = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET", "_AIRFLOW_WWW_USER_PASSWORD")


@pytest.mark.parametrize("missing", SECRETS)
def test_compose_refuses_to_start_without_each_secret_and_says_where_to_set_it(missing):
    env = {name: "s3cret" for name in SECRETS if name != missing}
    with pytest.raises(LookupError, match=f"required variable {missing} is missing a value: set {missing} in .env"):
        for value in strings(COMPOSE):
            interpolate(value, env)
    for value in strings(COMPOSE):  # with every secret set, nothing else is required
        interpolate(value, dict.fromkeys(SECRETS, "s3cret"))


def test_no_secret_has_a_default_in_compose():
    text = (ROOT / "docker-compose.yaml").read_text()
    for name in SECRETS:
        assert f"${{{name}:?" in text and f"${{{name}:-" not in text


def test_the_api_server_listens_on_loopback_unless_told_otherwise():
    (ports,) = COMPOSE["services"]["airflow-apiserver"]["ports"]
    assert interpolate(ports, {}) == "127.0.0.1:8080:8080"
    assert interpolate(ports, {"AIRFLOW_API_BIND": "0.0.0.0"}) == "0.0.0.0:8080:8080"  # noqa: S104
    assert all("ports" not in s for n, s in COMPOSE["services"].items() if n != "airflow-apiserver")
