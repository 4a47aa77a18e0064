"""Release orchestration for Laravel applications on Apache Airflow.

Read it in the order a release flows: ``policy`` (what each release type
does), ``config`` (where), ``plan`` (what runs on which host), ``steps``
(the task groups), ``verify`` (the verdicts), ``dag_factory`` (how a policy
row becomes a DAG). The remote side is ``include/scripts``.
"""
