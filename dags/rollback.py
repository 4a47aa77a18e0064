"""
### Rollback

**Put an environment back on a good release in seconds.** A release rolls
itself back when a rollback trigger trips; this DAG is for everything else
(an incident found later, an operator's call, CI).

Trigger with `environment`, `reason` and optionally `target` (a kept release or
its version; default: the previous good release) and `mode`:

- `code` (default): the atomic switch of `current` back, on every host at once.
- `migrations`: the switch, then the bad release's migrations undone (old code
  tolerates an added column; new code breaks on a dropped one).
- `restore`: the switch, then the backup taken before the bad release restored.
  Rows written since are lost: the run waits in Required Actions for one of the
  environment's approvers, who sees how many per table and types
  `restore <environment> <release>` to approve.

`trigger` is set when an alert started the run (DAG `rollback_on_alert`): nobody
chose it, so a code rollback that is not safe waits for an approver
(`choose_rollback`), as a release's own rollback does.

The environment is frozen while the rollback runs, the release left behind is
marked bad (never chosen as a target again), health and version are verified on
every host, and the freeze is lifted. When Airflow itself is down, run
`include/scripts/rollback.sh` on each host by hand (see README.md, "Break-glass").
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py; it runs the release DAGs' rollback task group.
from laravel_release.dag_factory import rollback_dag

dag = rollback_dag(doc_md=__doc__)
