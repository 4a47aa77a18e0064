# shellcheck shell=bash
# Sourced by the Makefile's commands: the environment Airflow runs in here.
# Everything is overridable from the caller's environment.
PROJECT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PROJECT
export SANDBOX_ROOT=${SANDBOX_ROOT:-/var/tmp/zena-sandbox}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PROJECT/airflow-home}
export AIRFLOW__CORE__DAGS_FOLDER=$PROJECT/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$PROJECT/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}
export AIRFLOW__CORE__EXECUTOR=${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE:-$AIRFLOW_HOME/passwords.json}
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-10}
# An unchanged DAG file is parsed again every 5 minutes, not every 30 s: fifteen files every 30 s kept
# 0.14 of a core busy with nothing to run (an idle standalone Airflow: 0.31 cores, 0.16 at 5 minutes),
# taken from the tasks of a release. A changed DAG file is still parsed at the next refresh (changed
# files first); after a change under plugins/, restart Airflow (tasks run the package it preloaded, below).
export AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL=${AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL:-300}
# A release is a chain of short tasks: a scheduler that naps less between loops starts the next one sooner.
export AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME=${AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME:-0.2}
# Every task's process parses its DAG file first. The LocalExecutor's workers start from a fork server
# that has already imported the task runner, this project's package and the SSH and HTTP hooks, so a
# task's process inherits them instead of importing them: its parse takes 0.05 s instead of 0.2 s, and
# about 1 s less under the bench's load. The price: after a change under plugins/, restart Airflow.
export AIRFLOW__SCHEDULER__MP_START_METHOD=${AIRFLOW__SCHEDULER__MP_START_METHOD:-forkserver}
export AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD=${AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD:-airflow.executors.local_executor,airflow.sdk.execution_time.supervisor,airflow.sdk.execution_time.task_runner,airflow.dag_processing.dagbag,airflow.dag_processing.bundles.manager,airflow.providers.ssh.hooks.ssh,airflow.providers.http.hooks.http,laravel_release.dag_factory,laravel_release.hooks}
export AIRFLOW__API__PORT=${AIRFLOW__API__PORT:-8080}
export AIRFLOW_URL=${AIRFLOW_URL:-http://127.0.0.1:$AIRFLOW__API__PORT}
# Where task processes report to (Airflow assumes port 8080 otherwise).
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=${AIRFLOW__CORE__EXECUTION_API_SERVER_URL:-$AIRFLOW_URL/execution/}
# The embedded SQLite database: writers wait for each other instead of failing after 5 s.
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS:-laravel_release.embedded.SQLITE_CONNECT_ARGS}
fi
# The release report (DAG release_metrics) reads the run history through Airflow's own REST API.
export AIRFLOW_CONN_AIRFLOW_API=${AIRFLOW_CONN_AIRFLOW_API:-"{\"conn_type\": \"http\", \"host\": \"$AIRFLOW_URL\", \"login\": \"admin\", \"password\": \"admin\"}"}
export LARAVEL_RELEASE_CONFIG=${LARAVEL_RELEASE_CONFIG:-$PROJECT/include/config/environments.yaml}
export PYTHONPATH=$PROJECT/plugins${PYTHONPATH:+:$PYTHONPATH}
export PATH=$PROJECT/.venv/bin:$PATH
# The sandbox's connections (AIRFLOW_CONN_ZENA_*), once the sandbox has started.
if [ -f "$SANDBOX_ROOT/airflow.env" ]; then
  # shellcheck disable=SC1091
  . "$SANDBOX_ROOT/airflow.env"
fi
