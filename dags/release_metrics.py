"""
### Release metrics

**Are we meeting the release strategy's targets?** Weekly (Monday 06:00 UTC)
and on demand, this DAG reads the history of the release and rollback DAGs from
Airflow's REST API and writes an HTML report: the four DORA keys (deployment
frequency, lead time for changes, change failure rate, time to restore) and the
seed's other targets (coverage, critical vulnerabilities, p95, error rate), met
or missed, with charts; the audit trail of production changes (who triggered,
who approved, which version replaced which, where, the outcome); and each
release's checklists with their proof. A short summary goes to Slack and by e-mail
to production's stakeholders (nothing when the period has no production change).

The report is written to `reports.dir` of the environment file (default
`$AIRFLOW_HOME/reports`): `latest.html` and one file per run.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import metrics_dag

dag = metrics_dag(doc_md=__doc__)
