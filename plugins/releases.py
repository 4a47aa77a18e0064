"""The Releases plugin: Airflow's API server mounts its web app (laravel_release/webapp.py) under /releases,
and the UI's navigation shows the cockpit (/releases/) as "Releases", inside Airflow's own page."""

from airflow.plugins_manager import AirflowPlugin

from laravel_release.webapp import app


class ReleasesPlugin(AirflowPlugin):
    name = "releases"
    fastapi_apps = [{"app": app, "url_prefix": "/releases", "name": "Releases"}]
    external_views = [
        {
            "name": "Releases",
            "href": "/releases/",
            "url_route": "releases",
            "destination": "nav",
            "category": None,
        }
    ]
