"""The Releases plugin: Airflow's API server mounts its web app (laravel_release/webapp.py) under /releases,
and the UI's navigation shows the cockpit (/releases/) as "Releases", inside Airflow's own page."""

from typing import Any

from airflow.plugins_manager import AirflowPlugin


class WebApp:
    """The web app, imported on its first request. Every Airflow process loads the plugins, each task's
    process included, and only the API server serves the app: FastAPI, Jinja and the cockpit's modules
    cost every task a third of a second to import."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from laravel_release.webapp import app

        await app(scope, receive, send)


class ReleasesPlugin(AirflowPlugin):
    name = "releases"
    fastapi_apps = [{"app": WebApp(), "url_prefix": "/releases", "name": "Releases"}]
    external_views = [
        {
            "name": "Releases",
            "href": "/releases/",
            "url_route": "releases",
            "destination": "nav",
            "category": None,
        }
    ]
