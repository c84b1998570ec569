"""Connection settings of Airflow's embedded SQLite database (the single-machine default).

The scheduler, DAG processor, API server and CLI commands such as `airflow backfill create`
write to one SQLite file. SQLite lets one writer in at a time and Python's driver gives up
after 5 s of waiting ("database is locked"), which a busy 2-core machine exceeds. Airflow
reads these arguments through `[database] sql_alchemy_connect_args` (and `_async`):

    AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=csmetrics.airflow_db.SQLITE_CONNECT_ARGS

A deployment on PostgreSQL or MySQL leaves them unset.
"""

# Seconds a connection waits for another writer's lock before it fails.
SQLITE_CONNECT_ARGS = {"timeout": 120}

# Airflow settings that point its metadata database connections at the arguments above.
SQLITE_AIRFLOW_ENV = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "csmetrics.airflow_db.SQLITE_CONNECT_ARGS",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC": "csmetrics.airflow_db.SQLITE_CONNECT_ARGS",
}
