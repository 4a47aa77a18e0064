"""The Releases plugin: Airflow's API server mounts its web app (laravel_release/webapp.py) under /releases."""

from airflow.plugins_manager import AirflowPlugin

from laravel_release.webapp import app


class ReleasesPlugin(AirflowPlugin):
    name = "releases"
    fastapi_apps = [{"app": app, "url_prefix": "/releases", "name": "Releases"}]
