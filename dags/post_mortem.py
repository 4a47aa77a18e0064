"""
### Post-mortem

**The last step of the seed's emergency procedure.** A release whose production
stage was rolled back or failed, and every rollback run that decided a
rollback, opens one run of this DAG (their `request_post_mortem` task). It
shows the run's timeline (who started it, each step with its time and outcome,
what tripped) and asks for the root cause, the actions and their owner. The
answer, with who gave it and when, is shown in the release report (DAG
`release_metrics`).
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import post_mortem_dag

dag = post_mortem_dag(doc_md=__doc__)
