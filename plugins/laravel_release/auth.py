"""The auth manager of the distributed engine (docker-compose.yaml): FAB's, with approvers named by user name.

Airflow lets a user answer a Required Action when the auth manager finds the user among the request's
assigned users, by id. The environment file names approvers by user name, which is SimpleAuthManager's
id; FAB's ids are numbers no environment file can know. This manager also accepts the user name, so
``signoff.approvers: [alice]`` means the FAB user ``alice`` (approver names are never all digits: see
config.py, so a name cannot stand for another user's id).
"""

from __future__ import annotations

from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager as _FabAuthManager


class FabAuthManager(_FabAuthManager):
    def is_authorized_hitl_task(self, *, assigned_users: set[str], user: Any) -> bool:
        return user.get_name() in assigned_users or super().is_authorized_hitl_task(
            assigned_users=assigned_users, user=user
        )
