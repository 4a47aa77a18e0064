"""Settings for the embedded default (Airflow standalone on SQLite), read by Airflow itself.

``dev/env.sh`` points ``AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS`` here when no
other database is configured: SQLite lets one writer in at a time, and with a
scheduler, a dag-processor, an api-server and several task processes writing,
the default 5 s wait for the lock ends in "database is locked" under load.
"""

SQLITE_CONNECT_ARGS = {"timeout": 60}
