#!/usr/bin/env bash
# Airflow standalone (api-server, scheduler, dag-processor, triggerer; SQLite, LocalExecutor)
# in the background, with this project's DAGs and the sandbox's connections.
#
# usage: dev/airflow.sh start|stop|status
set -euo pipefail
. "$(dirname "$0")/env.sh"
pidfile=$AIRFLOW_HOME/standalone.pid
log=$AIRFLOW_HOME/standalone.log

running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case "${1:-}" in
  start)
    mkdir -p "$AIRFLOW_HOME"
    [ -f "$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE" ] || echo '{"admin": "admin"}' >"$AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"
    if ! running; then
      airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { tail -n 20 "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
      setsid airflow standalone </dev/null >"$log" 2>&1 &
      echo $! >"$pidfile"
    fi
    for _ in $(seq 1 240); do
      if curl -fsS "$AIRFLOW_URL/api/v2/monitor/health" >/dev/null 2>&1; then
        echo "airflow: up at $AIRFLOW_URL (log: $log)"; exit 0
      fi
      running || { echo "airflow: standalone stopped; last lines of $log:"; tail -n 30 "$log"; exit 1; }
      sleep 0.5
    done
    echo "airflow: not answering at $AIRFLOW_URL after 120 s; see $log"; exit 1
    ;;
  stop)
    if running; then
      kill -- "-$(cat "$pidfile")" 2>/dev/null || kill "$(cat "$pidfile")"
      for _ in $(seq 1 100); do running || break; sleep 0.1; done
      running && kill -9 -- "-$(cat "$pidfile")" 2>/dev/null
      echo "airflow: stopped"
    fi
    rm -f "$pidfile"
    ;;
  status)
    if running; then echo "airflow: running (pid $(cat "$pidfile")) at $AIRFLOW_URL"; else echo "airflow: stopped"; fi
    ;;
  *) echo "usage: dev/airflow.sh start|stop|status" >&2; exit 2 ;;
esac
