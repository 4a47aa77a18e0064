"""
### Release cockpit snapshot

**What runs where, for the Releases cockpit** (Airflow's navigation: Releases, or
`/releases/`). Every 5 minutes, and when the cockpit's "Refresh" asks, one task reads:

- every host's live release and version, since when and by which run (`status.sh`),
  and its kept releases, the bad ones marked;
- the environment's lock holder and freeze on its first host;
- the release and rollback runs of the last week from Airflow's REST API
  (`reports.api_conn_id`): runs in flight, open incidents and their escalation level,
  sign-offs waiting, the last production changes and this week's DORA figures.

It changes nothing. The snapshot is stored in the Variable `releases_cockpit_snapshot`,
so the page never waits on SSH and says how old what it shows is. A host that does
not answer is named on its environment's card.
"""

# An Airflow DAG from plugins/laravel_release/dag_factory.py.
from laravel_release.dag_factory import cockpit_dag

dag = cockpit_dag(doc_md=__doc__)
