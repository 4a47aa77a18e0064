#!/usr/bin/env bash
# Airflow in the background, with this project's DAGs and the sandbox's connections:
#
#   dev/airflow.sh start                 standalone (api-server, scheduler, dag-processor, triggerer
#                                        in one process; SQLite, LocalExecutor): the embedded default
#   dev/airflow.sh start --distributed   docker-compose.yaml's configuration natively: CeleryExecutor,
#                                        PostgreSQL (metadata and results) and Redis (broker), and an
#                                        api-server, scheduler, dag-processor, triggerer and Celery
#                                        worker, one process each (AIRFLOW_HOME: airflow-home-distributed)
#   dev/airflow.sh stop|status
#
# --distributed reads DISTRIBUTED_DB (default postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_release,
# created when missing) and DISTRIBUTED_BROKER (default redis://127.0.0.1:6379/0).
set -euo pipefail
if [ "${2:-}" = "--distributed" ]; then
  PROJECT=$(cd "$(dirname "$0")/.." && pwd)
  export AIRFLOW_HOME=${AIRFLOW_HOME:-$PROJECT/airflow-home-distributed}
  export AIRFLOW__CORE__EXECUTOR=CeleryExecutor
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=${DISTRIBUTED_DB:-postgresql+psycopg2://postgres@127.0.0.1:5432/airflow_release}
  export AIRFLOW__CELERY__RESULT_BACKEND=db+${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}
  export AIRFLOW__CELERY__BROKER_URL=${DISTRIBUTED_BROKER:-redis://127.0.0.1:6379/0}
  # the embedded default's SQLite settings do not apply to PostgreSQL
  [ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS:-}" != laravel_release.embedded.SQLITE_CONNECT_ARGS ] ||
    unset AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS
  # compose's auth manager: FAB's users and roles (the admin user is created at start)
  export AIRFLOW__CORE__AUTH_MANAGER=laravel_release.auth.FabAuthManager
  # every component signs and checks the task tokens with the same secret
  export AIRFLOW__API_AUTH__JWT_SECRET=${AIRFLOW__API_AUTH__JWT_SECRET:-$(cat "$AIRFLOW_HOME/jwt-secret" 2>/dev/null || true)}
fi
. "$(dirname "$0")/env.sh"
pidfile=$AIRFLOW_HOME/standalone.pid
log=$AIRFLOW_HOME/standalone.log

pid_running() {  # pid: alive and not a zombie (a stopped process stays a zombie until init reaps it,
  # every second or two on some machines, and `kill -0` counts a zombie as alive)
  local state
  state=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
running() { [ -s "$pidfile" ] && pid_running "$(head -n 1 "$pidfile")"; }

create_database() {  # the metadata database on PostgreSQL, when it does not exist yet
  python - "$AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" <<'PY'
import sys
from sqlalchemy.engine import make_url
import psycopg2

url = make_url(sys.argv[1])
conn = psycopg2.connect(host=url.host, port=url.port or 5432, user=url.username, password=url.password, dbname="postgres")
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (url.database,))
    if not cur.fetchone():
        cur.execute(f'CREATE DATABASE "{url.database}"')
PY
}

case "${1:-}" in
  start)
    mkdir -p "$AIRFLOW_HOME"
    # every task process and every parse imports the package: compiled once here, not at each import (an
    # environment with PYTHONDONTWRITEBYTECODE never keeps the bytecode; a source newer than it is compiled
    # afresh, as always)
    python -m compileall -q "$PROJECT/plugins" "$PROJECT/dags" >/dev/null
    # the local-only default login (admin / admin; see README): never a default outside this machine
    [ -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ] || (umask 077; echo '{"admin": "admin"}' >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    if ! running && [ "${2:-}" = "--distributed" ]; then
      if [ -z "${AIRFLOW__API_AUTH__JWT_SECRET:-}" ]; then
        (umask 077; python -c 'import secrets; print(secrets.token_urlsafe(32))' >"$AIRFLOW_HOME/jwt-secret")
        AIRFLOW__API_AUTH__JWT_SECRET=$(cat "$AIRFLOW_HOME/jwt-secret"); export AIRFLOW__API_AUTH__JWT_SECRET
      fi
      create_database
      airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
      # the local-only default login, as compose's airflow-init creates it (there from .env)
      airflow users list 2>/dev/null | grep -qw "${DISTRIBUTED_ADMIN:-admin}" ||
        airflow users create --username "${DISTRIBUTED_ADMIN:-admin}" --password "${DISTRIBUTED_ADMIN_PASSWORD:-admin}" \
          --role Admin --firstname Release --lastname Admin --email "${DISTRIBUTED_ADMIN:-admin}@localhost" \
          >>"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
      : >"$pidfile"
      for component in api-server scheduler dag-processor triggerer "celery worker"; do
        # shellcheck disable=SC2086  # "celery worker" is two words
        setsid airflow $component </dev/null >"$AIRFLOW_HOME/${component// /-}.log" 2>&1 &
        echo $! >>"$pidfile"
      done
      log=$AIRFLOW_HOME/api-server.log
    elif ! running; then
      airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
      setsid airflow standalone </dev/null >"$log" 2>&1 &
      echo $! >"$pidfile"
    fi
    for _ in $(seq 1 240); do
      if curl -fsS "$AIRFLOW_URL/api/v2/monitor/health" >/dev/null 2>&1; then
        # what holds a secret is the owner's alone: the keys in airflow.cfg, passwords, the JWT secret
        for secret in "$AIRFLOW_HOME"/{airflow.cfg,jwt-secret,simple_auth_manager_passwords.json.generated,airflow.db} \
          "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"; do
          [ ! -f "$secret" ] || chmod 600 "$secret"
        done
        echo "airflow: up at $AIRFLOW_URL (log: $log)"; exit 0
      fi
      running || { echo "airflow: standalone stopped; last lines of $log:"; tail -n 30 "$log"; exit 1; }
      sleep 0.5
    done
    echo "airflow: not answering at $AIRFLOW_URL after 120 s; see $log"; exit 1
    ;;
  stop)
    if [ -s "$pidfile" ]; then
      while read -r pid; do
        kill -0 "$pid" 2>/dev/null || continue  # gone; a zombie leader may still have its group
        kill -- "-$pid" 2>/dev/null || kill "$pid"
        for _ in $(seq 1 100); do pid_running "$pid" || break; sleep 0.1; done
        kill -9 -- "-$pid" 2>/dev/null || true
      done <"$pidfile"
      echo "airflow: stopped"
    fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "airflow: running (pids $(xargs <"$pidfile")) at $AIRFLOW_URL"; else echo "airflow: stopped"; fi
    ;;
  *) echo "usage: dev/airflow.sh start [--distributed] | stop [--distributed] | status [--distributed]" >&2; exit 2 ;;
esac
