"""
### Feature release

New functionality with regression testing: built and tested once, deployed to
**staging**, then **UAT**, where a person signs off (Required Actions), then
**production** (window: Tuesday to Thursday from 02:00 UTC).

Trigger with `version` (an existing tag such as `v1.4.0`).
"""

# An Airflow DAG built from the "feature" row of the policy table (plugins/laravel_release/policy.py).
from laravel_release.dag_factory import release_dag

dag = release_dag("feature", doc_md=__doc__)
