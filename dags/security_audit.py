"""
### Security audit

**Every day at 05:00 UTC, what is live is checked against the advisories published since.**
On each environment's first host, `composer audit` and `npm audit` read the live
release's lock files (`scan.sh --advisories-only`, nothing written there), and the
previous good release's.

- A critical advisory only the live release has raises the security rollback trigger:
  a `rollback_on_alert` run judges it and rolls the release back (once per release).
- When the release before has it too, a rollback removes nothing: the task fails and
  says to release the fixed dependencies as a hotfix.
- An advisory database out of reach is said; `build.advisories: block` fails the audit.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import audit_dag

dag = audit_dag(doc_md=__doc__)
