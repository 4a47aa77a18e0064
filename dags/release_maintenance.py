"""
### Maintenance release

Bug fixes and improvements: built and tested once, deployed to **staging**,
then **UAT** with sign-off, then **production** (window: Tuesday to Thursday
from 02:00 UTC).

Trigger with `version` (an existing tag such as `v1.4.2`).
"""

# An Airflow DAG built from the "maintenance" row of the policy table (plugins/laravel_release/policy.py).
from laravel_release.dag_factory import release_dag

dag = release_dag("maintenance", doc_md=__doc__)
