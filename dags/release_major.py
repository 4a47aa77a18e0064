"""
### Major release

Significant features and breaking changes: built and tested once, deployed to
**staging**, then **UAT** with sign-off, then **production** (window: Saturday
from 02:00 UTC).

Trigger with `version` (an existing tag such as `v2.0.0`).
"""

# An Airflow DAG built from the "major" row of the policy table (plugins/laravel_release/policy.py).
from laravel_release.dag_factory import release_dag

dag = release_dag("major", doc_md=__doc__)
