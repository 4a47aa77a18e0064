"""
### Deployment freeze

**Stop new deployments** to an environment while an incident is handled, or
allow them again. Every release waits before it touches a frozen environment
and its log says who froze it and why; only a hotfix passes a freeze, with its
recorded reason. The rollback procedure sets the same freeze.

Trigger with `environment`, `action` (`freeze` or `clear`) and, to freeze, a `reason`.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py; the freeze lives on the environment's first host.
from laravel_release.dag_factory import freeze_dag

dag = freeze_dag(doc_md=__doc__)
