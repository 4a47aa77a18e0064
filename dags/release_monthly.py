"""
### Monthly release report

**The seed's monthly stakeholder update.** The release report of DAG
`release_metrics` over the last four weeks, on the 1st of each month at 06:00
UTC: written to the reports folder, its summary posted to Slack and e-mailed to
production's stakeholders. A month without any production change sends nothing.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import metrics_dag

dag = metrics_dag(doc_md=__doc__, dag_id="release_monthly")
