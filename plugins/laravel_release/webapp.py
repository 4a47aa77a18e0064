"""The Releases plugin's web app (FastAPI, mounted by Airflow's API server under ``/releases``).

    POST /releases/api/alerts   a monitor's alert ─> a rollback_on_alert run per environment

The alert endpoint is for machines: it is authenticated by a token, the password of
the ``release_alerts`` connection (``alerts.conn_id`` in the environment file), sent as
``Authorization: Bearer <token>`` (or as the password of Basic authentication). It
only starts ``rollback_on_alert`` runs, which judge the alert and roll back through
the rollback DAG: the endpoint itself changes nothing on any host.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from laravel_release import alerts, config

log = logging.getLogger(__name__)

app = FastAPI(title="Releases", description="Release orchestration for Laravel: alerts from monitoring.")


def loaded_config() -> config.Config:
    """The environment file, read once per request (FastAPI shares a dependency's value within one)."""
    return config.load()


Cfg = Annotated[config.Config, Depends(loaded_config)]


def expected_token(cfg: config.Config) -> str:
    """The token alerts must send: the password of the alerts connection."""
    from airflow.exceptions import AirflowNotFoundException
    from airflow.models.connection import Connection

    conn_id = cfg.alerts_conn_id
    try:
        token = Connection.get_connection_from_secrets(conn_id).password or ""
    except AirflowNotFoundException:
        token = ""
    if not token:
        raise HTTPException(
            503,
            f"alerts are not accepted: the connection {conn_id!r} with the token as its password is missing. "
            "Create it (AIRFLOW_CONN_* or the UI), and give the token to the monitor.",
        )
    return token


def sent_token(authorization: str | None) -> str:
    scheme, _, value = (authorization or "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip()).decode().partition(":")[2]
        except ValueError:
            return ""
    return ""


def authenticated(cfg: Cfg, authorization: Annotated[str | None, Header()] = None) -> None:
    token = expected_token(cfg)
    if not hmac.compare_digest(sent_token(authorization).encode(), token.encode()):
        raise HTTPException(
            401,
            "no valid token: send Authorization: Bearer <the release_alerts connection's password>",
            headers={"WWW-Authenticate": "Bearer"},
        )


def start_run(dag_id: str, run_id: str, conf: dict[str, Any], user: str) -> str:
    """Start a run of ``dag_id`` (the API server's own trigger, as its REST API does); raises HTTPException
    when the DAG cannot run it, so that the monitor sees it fail and tries again."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import ParamValidationError
    from airflow.models.dag import DagModel
    from airflow.utils.types import DagRunTriggeredByType

    for needed in (dag_id, "rollback"):
        model = DagModel.get_current(needed)
        if model is None:
            raise HTTPException(503, f"the DAG {needed} is not loaded: check the DAG folder and its import errors")
        if model.is_paused:
            raise HTTPException(503, f"the DAG {needed} is paused: nothing was started. Unpause it to act on alerts.")
    try:
        run = trigger_dag(
            dag_id, triggered_by=DagRunTriggeredByType.REST_API, run_id=run_id, conf=conf, triggering_user_name=user
        )
    except ParamValidationError as err:
        raise HTTPException(400, f"{dag_id} refused the alert: {err}") from None
    return run.run_id if run is not None else run_id


def run_starter() -> Callable[[str, str, dict[str, Any], str], str]:
    return start_run


@app.post("/api/alerts", status_code=202, dependencies=[Depends(authenticated)])
async def receive_alerts(
    request: Request,
    cfg: Cfg,
    start: Annotated[Callable[[str, str, dict[str, Any], str], str], Depends(run_starter)],
) -> JSONResponse:
    """Alertmanager's or Grafana's webhook, or plain JSON: a ``rollback_on_alert`` run per environment named
    by its firing alerts (202, with the runs), nothing for resolved alerts (200), 400 naming what is wrong."""
    try:
        payload = await request.json()
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    query = dict(request.query_params)
    try:
        found = alerts.parse(payload, query, cfg.environments)
        source = query.get("source") or ("grafana" if isinstance(payload, dict) and "orgId" in payload else "")
        source = source or ("alertmanager" if isinstance(payload, dict) and "alerts" in payload else "webhook")
        confs = alerts.run_confs(found, source)
    except alerts.AlertError as err:
        log.warning("alert refused: %s", err)
        raise HTTPException(400, str(err)) from None
    if not confs:
        return JSONResponse({"runs": [], "detail": "no firing alert: nothing to judge"}, status_code=200)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    runs = []
    for env, conf in confs.items():
        run_id = f"alert__{env}__{stamp}__{secrets.token_hex(3)}"
        started = start(alerts.ALERT_DAG, run_id, conf, f"alert:{source}")
        log.warning("alert from %s for %s: %s -> run %s", source, env, alerts.describe(conf), started)
        runs.append({"dag_id": alerts.ALERT_DAG, "run_id": started, "environment": env, "measured": conf["measured"]})
    return JSONResponse({"runs": runs}, status_code=202)
