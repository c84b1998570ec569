"""What `bin/demo` prints around the DAG runs it makes (no Spark, no Airflow database)."""

from __future__ import annotations

import importlib
import sys
import warnings
from datetime import date

from csmetrics import demo


class ImportsTheTestClient:
    """Stands in for csmetrics_daily: dag.test() imports FastAPI's TestClient, as Airflow's
    in-process execution API does."""

    def test(self, logical_date):
        importlib.import_module("fastapi.testclient")


def forget_the_test_client(monkeypatch):
    """Make the next import of the TestClient run its module again, and so warn again; the
    modules already imported come back after the test."""
    for module in ("fastapi.testclient", "starlette.testclient"):
        monkeypatch.delitem(sys.modules, module, raising=False)


class Bag:
    import_errors: dict = {}

    def __init__(self, folder):
        pass

    def get_dag(self, dag_id):
        return ImportsTheTestClient()


def test_the_demo_does_not_show_starlettes_warning_about_airflows_test_client(monkeypatch):
    # The stand-in does raise the warning (it would not once httpx2 is installed): else this
    # test could pass whatever the demo does.
    forget_the_test_client(monkeypatch)
    with warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        ImportsTheTestClient().test(None)
    assert any("testclient" in str(w.message) for w in raised)

    monkeypatch.setenv("AIRFLOW__CORE__DAGS_FOLDER", "dags")
    monkeypatch.setattr("airflow.dag_processing.dagbag.DagBag", Bag)
    forget_the_test_client(monkeypatch)
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        demo.run_dag(date(2026, 3, 2))
    assert [str(w.message) for w in shown if "testclient" in str(w.message)] == []
