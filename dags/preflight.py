"""
### Preflight

**Before the first release to an environment: can every host take one?** The
same checks as `python -m laravel_release preflight --environment production`:
SSH login with a pinned host key, the deploy path, `shared/.env` and the
database as the app's user, `mariadb-dump`, free disk, the reload command
without a password prompt, the releases another tool left (adopted at the first
release), the health and version endpoints as configured, and that nginx serves
what `current` points at. The log shows one table of what holds and what to fix;
the run fails when something must be fixed. Nothing is changed on the hosts.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import preflight_dag

dag = preflight_dag(doc_md=__doc__)
