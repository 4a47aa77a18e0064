"""
### Post-release review

**What only a person can confirm, after a release.** Every successful release
opens one run of this DAG (its `request_review` task). The form asks for the
items of the seed's checklists that no task can prove: code review completed,
documentation updated, user feedback collected, lessons learned documented.
The answer (and who gave it, when) is shown with the release's checklist in the
release report (DAG `release_metrics`).
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import review_dag

dag = review_dag(doc_md=__doc__)
