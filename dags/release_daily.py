"""
### Daily release progress

**The seed's daily stakeholder update, in a release week.** Every day at 08:00
UTC: each release that ended in the last 24 hours (live in production, rolled
back, stopped) and each one in progress with what it waits for, posted to Slack
and e-mailed to production's stakeholders. A quiet day sends nothing.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import metrics_dag

dag = metrics_dag(doc_md=__doc__, dag_id="release_daily")
