"""
### Hotfix release

Critical security fixes only. Any time, day or night: the version is built and
tested once, deployed to **staging** and verified there (health, version, smoke
tests), then deployed to **production**. No UAT stage; a reason is required.

Trigger with `version` (an existing tag such as `v1.4.1`) and `reason`.
"""

# An Airflow DAG built from the "hotfix" row of the policy table (plugins/laravel_release/policy.py).
from laravel_release.dag_factory import release_dag

dag = release_dag("hotfix", doc_md=__doc__)
