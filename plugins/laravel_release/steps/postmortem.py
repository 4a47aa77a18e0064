"""The post-mortem: the last step of the seed's emergency procedure, a form per incident.

    (a release whose production stage rolled back or failed; a rollback run)
        ─> request_post_mortem ─> DAG post_mortem: write_timeline ─> post_mortem (form) ─> record_post_mortem

``request_post_mortem`` is a teardown (the run's state stays its own). The
``post_mortem`` run it starts reads the run from Airflow's REST API and shows its
timeline; whoever answers writes the root cause, the actions and their owner.
The answer, with who gave it and when, is shown in the release report.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from laravel_release import config, evidence, gates, history
from laravel_release.steps.announce import outcome
from laravel_release.steps.metrics import api_client

log = logging.getLogger(__name__)

POST_MORTEM_DAG = "post_mortem"


def post_mortem_wanted(dag_id: str, run_id: str, states: dict[str, str], environment: str | None) -> str:
    """Why this run needs a post-mortem ("" when it does not): a release whose ``environment`` stage
    rolled back or failed, or a rollback run that decided a rollback (not a restore offered after a
    release's own rollback: that release's post-mortem covers it)."""
    if environment is not None:
        result, _ = outcome(states, environment)
        return "" if result == "success" else f"{environment} {result.replace('_', ' ')}"
    if run_id.startswith("restore_offer__"):
        return ""
    decided = states.get("rollback.decide_rollback")
    return "a rollback" if decided == "success" else ""


class RequestPostMortem(TriggerDagRunOperator):
    """Open the post-mortem form (DAG post_mortem) for this run when it needs one, without waiting for it."""

    def __init__(self, *, environment: str | None = None, **kwargs: Any) -> None:
        super().__init__(
            trigger_dag_id=POST_MORTEM_DAG,
            trigger_run_id="post_mortem__{{ run_id }}",
            conf={"dag_id": "{{ dag.dag_id }}", "run_id": "{{ run_id }}"},
            wait_for_completion=False,
            skip_when_already_exists=True,
            **kwargs,
        )
        self.environment = environment

    def execute(self, context: Any) -> Any:
        ti = context["ti"]
        found = ti.get_task_states(dag_id=ti.dag_id, run_ids=[ti.run_id])
        states = {t: str(gates._name(s)) for t, s in found.get(ti.run_id, {}).items()}
        why = post_mortem_wanted(ti.dag_id, ti.run_id, states, self.environment)
        if not why:
            raise AirflowSkipException("no incident: no post-mortem")
        log.warning("%s: a post-mortem form is opened (DAG %s)", why, POST_MORTEM_DAG)
        return super().execute(context)


@task(retries=1)
def write_timeline(**context: Any) -> str:
    """The run's timeline from Airflow's REST API, as the form's text; a run that does not exist is refused."""
    params = context["params"]
    dag_id, run_id = params["dag_id"], params["run_id"]
    cfg = config.load()
    api = api_client(cfg.reports_api_conn_id)
    try:
        run = history.one_run(api, dag_id, run_id)
    except Exception as err:  # noqa: BLE001 - the API's own error is quoted
        raise AirflowFailException(
            f"no post-mortem for {dag_id} run {run_id!r}: the run cannot be read ({err}). Nothing was recorded."
        ) from None
    lines = evidence.timeline(run)
    reason = (run.get("conf") or {}).get("reason") or (run.get("conf") or {}).get("version") or ""
    change = evidence.changes([run])  # the run may still be ending (its teardowns opened this form)
    outcome = change[0].outcome.replace("_", " ") if change else run["state"]
    what = "production: " + outcome if dag_id in evidence.RELEASE_DAGS else "rollback: " + outcome
    text = (
        f"**{dag_id}** run `{run_id}` ({reason}), **{what}**.\n\n**Timeline (UTC)**\n\n"
        + "\n".join(f"- {line}" for line in lines)
        + "\n\nWrite the root cause, the actions that keep it from happening again, and who owns them."
    )
    log.info("timeline of %s %s:\n%s", dag_id, run_id, "\n".join(lines))
    return text


@task(retries=0)
def record_post_mortem(answer: dict[str, Any], **context: Any) -> dict[str, Any]:
    """The answer, in the log and the XCom: the report reads it from the form itself."""
    params, fields = context["params"], dict(answer.get("params_input") or {})
    who = (answer.get("responded_by_user") or {}).get("name") or "?"
    blank = [k for k in ("root_cause", "actions", "owner") if not str(fields.get(k) or "").strip()]
    if blank:
        log.warning("the post-mortem was answered with %s left blank: the report shows it so", ", ".join(blank))
    log.warning(
        "POST-MORTEM of %s %s by %s: root cause: %s; actions: %s; owner: %s",
        params["dag_id"],
        params["run_id"],
        who,
        fields.get("root_cause"),
        fields.get("actions"),
        fields.get("owner"),
    )
    return {"by": who, **fields}
