"""The demo: release ZenaManage through staging, UAT and production in a running Airflow.

Puts v1.0.0 on the sandbox with a hotfix run if production serves nothing yet,
then releases the next version with ``release_feature``: staging, UAT, the
sign-off (answered here as the admin user unless DEMO_SIGNOFF=manual, in which
case it waits for you under Required Actions in the UI), production. Production
goes at once with a recorded window override, unless DEMO_WINDOW=wait: then it
waits, deferred, for the feature release window (Tuesday to Thursday, 02:00 UTC).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request

from laravel_release.client import Airflow

URL = os.environ.get("AIRFLOW_URL", "http://127.0.0.1:8080")
PRODUCTION = "http://127.0.0.1:8088"  # the sandbox's production load balancer
VERSIONS = ["v1.0.0", "v1.1.0", "v1.2.0"]  # v1.3.0 is the bad one: not for the demo


def live_version() -> str | None:
    try:
        with urllib.request.urlopen(f"{PRODUCTION}/api/version", timeout=5) as r:  # noqa: S310 (a fixed http URL)
            return json.load(r).get("version")
    except OSError:
        return None


def show(changed: dict[str, str]) -> None:
    for task, state in sorted(changed.items()):
        if state not in ("none", "scheduled", "queued"):
            print(f"  {task:45} {state}", flush=True)


def release(api: Airflow, dag_id: str, conf: dict[str, str]) -> str:
    api.unpause(dag_id)
    run_id = api.trigger(dag_id, conf, note="make demo")
    print(f"\n{dag_id} {conf['version']}: {URL}/dags/{dag_id}/runs/{run_id}", flush=True)

    def signoff_pending() -> bool:
        return bool(api.pending_signoffs(dag_id, run_id))

    while True:
        state = api.wait(dag_id, run_id, timeout=1800, on_progress=show, until=signoff_pending)
        if state in ("success", "failed"):
            return state
        if os.environ.get("DEMO_SIGNOFF") == "manual":
            print(f"  waiting for your sign-off: {URL}/required_actions", flush=True)
            api.wait(dag_id, run_id, timeout=3 * 86400, until=lambda: not signoff_pending())
        else:
            print("  approving the UAT sign-off as 'admin' (DEMO_SIGNOFF=manual leaves it to you)", flush=True)
            api.answer(dag_id, run_id, "approve_production", "Approve")


def main() -> int:
    api = Airflow.login(URL, "admin", "admin")
    live = live_version()
    if live is None:
        if (
            release(
                api, "release_hotfix", {"version": "v1.0.0", "reason": "first release of ZenaManage to the sandbox"}
            )
            != "success"
        ):
            return 1
        live = "v1.0.0"
    nxt = VERSIONS[min(VERSIONS.index(live) + 1, len(VERSIONS) - 1)] if live in VERSIONS else VERSIONS[-1]
    conf = {"version": nxt}
    if os.environ.get("DEMO_WINDOW") != "wait":  # DEMO_WINDOW=wait: production waits for the next window
        conf["window_override"] = "make demo: show the whole release now, outside the release window"
    state = release(api, "release_feature", conf)
    print(f"\nrelease_feature {nxt}: {state}; production serves {live_version()}")
    api.unpause("release_cockpit")  # the cockpit's snapshot, every 5 minutes from now on; one now
    snapshot = api.trigger("release_cockpit", {})
    print(f"release cockpit: {URL}/releases/ (snapshot {api.wait('release_cockpit', snapshot, timeout=300)})")
    if state == "success":  # the release report, with this release in it (the DAG also runs weekly)
        api.unpause("release_metrics")
        run_id = api.trigger("release_metrics", {"weeks": 1})
        if api.wait("release_metrics", run_id, timeout=600) == "success":
            print(f"release report: {api.xcom('release_metrics', run_id, 'write_report')['latest']}")
    return 0 if state == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
