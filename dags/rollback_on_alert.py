"""
### Rollback on alert

**The seed's rollback triggers, at any time.** A monitor's alert (Alertmanager,
Grafana, or any script: `POST /releases/api/alerts` with the `release_alerts`
token, or a trigger of this DAG) is judged by the same limits a release's
verification uses. When one is over its limit and the live release is the
environment's latest, a `rollback` run takes it back to the previous good
release: frozen, announced as an incident, stopped for an approver when going
back by code alone is not safe, followed by a post-mortem.

Nothing is rolled back for an alert within the limits, about a release no longer
live, or when the latest release was rolled back already: an alert never goes back
one release more. See README.md, "Alerts from your monitoring".
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import alert_dag

dag = alert_dag(doc_md=__doc__)
