"""The Releases plugin's web app (FastAPI, mounted by Airflow's API server under ``/releases``).

    GET  /releases/                    the cockpit: one card per environment, what waits, what changed
    GET  /releases/api/cockpit         the same as JSON, for CI and monitors
    POST /releases/api/actions/<verb>  rollback, freeze, release, snapshot: a run of the existing DAG
    POST /releases/api/alerts          a monitor's alert ─> a rollback_on_alert run per environment

The cockpit is behind Airflow's own authentication (the UI's session, or a bearer
token from ``/auth/token``) and permissions: whoever may read DAG runs sees it;
an action needs the right to trigger its DAG, so a viewer sees and cannot act.
Actions only start runs of the existing DAGs with their params filled, checked by
the same schemas as the trigger form; the page shows what the snapshot (DAG
``release_cockpit``) last read and how old it is, and never waits on SSH.

The alert endpoint is for machines: it is authenticated by a token, the password of
the ``release_alerts`` connection (``alerts.conn_id`` in the environment file), sent as
``Authorization: Bearer <token>`` (or as the password of Basic authentication). It
only starts ``rollback_on_alert`` runs, which judge the alert and roll back through
the rollback DAG: the endpoint itself changes nothing on any host.
"""

from __future__ import annotations

import base64
import hmac
import json
import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jinja2 import Environment, FileSystemLoader, select_autoescape

from laravel_release import alerts, cockpit, config, notify, policy

log = logging.getLogger(__name__)

app = FastAPI(
    title="Releases", description="Release orchestration for Laravel: the cockpit, and alerts from monitoring."
)
TEMPLATES = Environment(
    loader=FileSystemLoader(str(Path(__file__).with_name("templates"))), autoescape=select_autoescape(["html"])
)


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


def start_run(
    dag_id: str, run_id: str, conf: dict[str, Any], user: str, needs: tuple[str, ...] = ("rollback",), by: str = "rest"
) -> str:
    """Start a run of ``dag_id`` (the API server's own trigger, as its REST API does); raises HTTPException
    when it or a DAG it ``needs`` cannot run (a monitor sees it fail and tries again, a person reads why)."""
    from airflow.api.common.trigger_dag import trigger_dag
    from airflow.exceptions import ParamValidationError
    from airflow.models.dag import DagModel
    from airflow.utils.types import DagRunTriggeredByType

    for needed in dict.fromkeys((dag_id, *needs)):
        model = DagModel.get_current(needed)
        if model is None:
            raise HTTPException(503, f"the DAG {needed} is not loaded: check the DAG folder and its import errors")
        if model.is_paused:
            raise HTTPException(503, f"the DAG {needed} is paused: nothing was started. Unpause it first.")
    try:
        run = trigger_dag(
            dag_id,
            triggered_by=DagRunTriggeredByType.UI if by == "ui" else DagRunTriggeredByType.REST_API,
            run_id=run_id,
            conf=conf,
            triggering_user_name=user,
        )
    except ParamValidationError as err:
        raise HTTPException(400, f"{dag_id} refused the run: {err}") from None
    return run.run_id if run is not None else run_id


Starter = Callable[..., str]


def run_starter() -> Starter:
    return start_run


@app.post("/api/alerts", status_code=202, dependencies=[Depends(authenticated)])
async def receive_alerts(
    request: Request,
    cfg: Cfg,
    start: Annotated[Starter, Depends(run_starter)],
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
        # the trigger writes to Airflow's database: off the event loop, which serves all of Airflow's UI and API
        started = await run_in_threadpool(start, alerts.ALERT_DAG, run_id, conf, f"alert:{source}")
        log.warning("alert from %s for %s: %s -> run %s", source, env, alerts.describe(conf), started)
        runs.append({"dag_id": alerts.ALERT_DAG, "run_id": started, "environment": env, "measured": conf["measured"]})
    return JSONResponse({"runs": runs}, status_code=202)


# ── the cockpit ─────────────────────────────────────────────────────────────

bearer = HTTPBearer(auto_error=False)


async def signed_in(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Any:
    """Airflow's user of this request (a bearer token, or the UI's session cookie), None when there is none."""
    from airflow.api_fastapi.core_api.security import get_user

    try:
        return await get_user(request, None, credentials)
    except HTTPException as err:
        if err.status_code in (401, 403):
            return None
        raise


def signed_in_user(user: Annotated[Any, Depends(signed_in)]) -> Any:
    if user is None:
        raise HTTPException(
            401,
            "sign in: a bearer token from POST /auth/token, or Airflow's UI session",
            {"WWW-Authenticate": "Bearer"},
        )
    return user


def permission_check() -> Callable[[Any, str, str | None], bool]:
    """may(user, method, dag_id): Airflow's auth manager on the DAG runs of ``dag_id`` (None: any DAG)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

    def may(user: Any, method: str, dag_id: str | None) -> bool:
        return get_auth_manager().is_authorized_dag(
            method=method,  # type: ignore[arg-type]
            access_entity=DagAccessEntity.RUN,
            details=DagDetails(id=dag_id),
            user=user,
        )

    return may


May = Annotated[Callable[[Any, str, str | None], bool], Depends(permission_check)]
User = Annotated[Any, Depends(signed_in_user)]


def stored_snapshot() -> dict[str, Any] | None:
    """The last snapshot of DAG release_cockpit (the Variable it writes), None before the first."""
    from airflow.models.variable import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        var = session.scalar(select(Variable).where(Variable.key == cockpit.SNAPSHOT_VARIABLE))
        value = var.val if var is not None else None
    try:
        return json.loads(value) if value else None
    except ValueError:
        log.warning("the Variable %s is not JSON: ignored", cockpit.SNAPSHOT_VARIABLE)
        return None


Snapshot = Annotated[dict[str, Any] | None, Depends(stored_snapshot)]


def readable(user: User, may: May) -> Any:
    if not may(user, "GET", None):
        raise HTTPException(403, f"{user.get_name()} may not read DAG runs: ask for a role that can")
    return user


def cockpit_view(cfg: config.Config, snapshot: dict[str, Any] | None, user: Any, may: Any) -> dict[str, Any]:
    data = cockpit.view(snapshot, cfg, datetime.now(UTC))
    data["user"] = {
        "name": user.get_name(),
        "may": {
            **{verb: may(user, "POST", dag) for verb, dag in ACTION_DAGS.items() if dag},
            # the release types whose DAG the user may trigger
            "release": [t.name for t in policy.RELEASE_TYPES.values() if may(user, "POST", t.dag_id)],
        },
    }
    return data


@app.get("/api/cockpit")
def cockpit_json(cfg: Cfg, snapshot: Snapshot, user: Annotated[Any, Depends(readable)], may: May) -> JSONResponse:
    """The cockpit's data: environment cards, runs in flight, incidents, sign-offs, changes, DORA, windows."""
    return JSONResponse(cockpit_view(cfg, snapshot, user, may))


@app.get("/", response_class=HTMLResponse)
def cockpit_page(
    request: Request, cfg: Cfg, snapshot: Snapshot, user: Annotated[Any, Depends(signed_in)], may: May
) -> Any:
    if user is None:  # to Airflow's login, and back here
        from airflow.api_fastapi.app import get_auth_manager

        return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), 303)
    data = cockpit_view(cfg, snapshot, readable(user, may), may)
    page = TEMPLATES.get_template("cockpit.html").render(
        data=data,
        modes=list(policy.ROLLBACK_MODES),
        version_pattern=policy.VERSION_PATTERN,
    )
    return HTMLResponse(page)


# ── actions: runs of the existing DAGs, never a side door ──────────────────

ACTION_DAGS: dict[str, str | None] = {
    "rollback": "rollback",
    "freeze": "deployment_freeze",
    "snapshot": cockpit.COCKPIT_DAG,
    "release": None,  # the release type's DAG
}


class ActionError(ValueError):
    """An action the cockpit refuses before anything starts: the message says what to change."""


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ActionError(f"{key} must be text")
    return value.strip()


def action_run(verb: str, body: dict[str, Any], cfg: config.Config) -> tuple[str, dict[str, Any]]:
    """The DAG and conf an action starts (the DAG's own Params check the values again when it is triggered)."""
    env = _text(body, "environment") or "production"
    if verb != "snapshot" and env not in cfg.environments:
        raise ActionError(f"unknown environment {env!r}: use one of {', '.join(cfg.environments)}")
    if verb == "rollback":
        if _text(body, "confirm") != env:
            raise ActionError(f"to roll {env} back, type its name ({env}) in confirm")
        mode = _text(body, "mode") or "code"
        if mode not in policy.ROLLBACK_MODES:
            raise ActionError(f"unknown mode {mode!r}: use one of {', '.join(policy.ROLLBACK_MODES)}")
        conf = {"environment": env, "mode": mode, "reason": _text(body, "reason"), "target": _text(body, "target")}
        # the release the person saw live: a rollback from anything else refuses and changes nothing
        conf["from"] = _text(body, "from")
        return "rollback", conf
    if verb == "freeze":
        action = _text(body, "action") or "freeze"
        if action not in ("freeze", "clear"):
            raise ActionError(f"unknown freeze action {action!r}: use freeze or clear")
        return "deployment_freeze", {"environment": env, "action": action, "reason": _text(body, "reason")}
    if verb == "release":
        name = _text(body, "release_type") or ""
        if name not in policy.RELEASE_TYPES:
            raise ActionError(f"unknown release type {name!r}: use one of {', '.join(policy.RELEASE_TYPES)}")
        rtype = policy.RELEASE_TYPES[name]
        conf = {"version": _text(body, "version")}
        if rtype.requires_reason:
            conf["reason"] = _text(body, "reason")
        return rtype.dag_id, conf
    if verb == "snapshot":
        return cockpit.COCKPIT_DAG, {}
    raise ActionError(f"unknown action {verb!r}: use one of {', '.join(ACTION_DAGS)}")


@app.post("/api/actions/{verb}", status_code=202)
async def act(
    verb: str, request: Request, cfg: Cfg, user: User, may: May, start: Annotated[Starter, Depends(run_starter)]
) -> JSONResponse:
    """Start the run an action asks for, as the signed-in user; 202 with its id and page."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        # a form another site posts cannot set this type without the browser asking first (CORS)
        raise HTTPException(415, "send the action as JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:
        raise HTTPException(400, "the body is not JSON") from None
    try:
        dag_id, conf = action_run(verb, body if isinstance(body, dict) else {}, cfg)
    except ActionError as err:
        raise HTTPException(400, str(err)) from None
    name = user.get_name()
    if not await run_in_threadpool(may, user, "POST", dag_id):  # an auth manager may ask its database
        raise HTTPException(403, f"{name} may see the cockpit but not trigger {dag_id}: ask for a role that can")
    conf = {k: v for k, v in conf.items() if v is not None}
    run_id = f"cockpit__{datetime.now(UTC):%Y%m%dT%H%M%S}__{secrets.token_hex(3)}"
    started = await run_in_threadpool(start, dag_id, run_id, conf, name, needs=(), by="ui")  # off the event loop
    log.info("cockpit: %s started %s %s with %s", name, dag_id, started, conf)
    link = notify.run_link(dag_id, started, base_url="")  # the run's page, on this server
    return JSONResponse({"dag_id": dag_id, "run_id": started, "conf": conf, "link": link}, status_code=202)
