"""Known failures become one message that says what to do."""

from __future__ import annotations

from csmetrics.errors import describe, exit_code_of


def test_spark_out_of_memory_names_the_settings_to_change(monkeypatch):
    monkeypatch.setenv("CSMETRICS_SHUFFLE_PARTITIONS", "16")
    error = RuntimeError(
        "Job aborted due to stage failure: Lost task 9.0 in stage 233.0: "
        "org.apache.spark.memory.SparkOutOfMemoryError: [AGGREGATE_OUT_OF_MEMORY] No enough memory for aggregation"
    )
    message = describe(error)
    assert "SparkOutOfMemoryError" in message
    assert "CSMETRICS_SHUFFLE_PARTITIONS (now 16" in message
    assert "CSMETRICS_DRIVER_MEMORY" in message


def test_an_unknown_failure_keeps_its_traceback():
    def fail():
        raise ValueError("a bug")

    assert describe(ValueError("a bug")) is None
    try:
        exit_code_of(fail)
    except ValueError:
        pass
    else:
        raise AssertionError("an unknown failure must not be swallowed")


def test_a_known_failure_exits_1_with_its_message(capsys):
    def fail():
        raise RuntimeError("java.lang.OutOfMemoryError: Java heap space")

    assert exit_code_of(fail) == 1
    assert "Spark ran out of memory (java.lang.OutOfMemoryError)" in capsys.readouterr().err


def test_a_driver_that_died_mid_run_says_it_most_often_ran_out_of_heap(capsys):
    """Out of heap, a task's thread stops the local[*] JVM, and py4j only sees its socket
    close: the error the run ends with is a refused connection, raised while handling py4j's."""
    from py4j.protocol import Py4JNetworkError

    def fail():
        try:
            raise Py4JNetworkError("Answer from Java side is empty")
        except Py4JNetworkError:
            raise ConnectionRefusedError(111, "Connection refused") from None

    assert exit_code_of(fail) == 1
    message = capsys.readouterr().err
    assert "Spark's driver stopped in the middle of the run; it most often ran out of heap" in message
    assert "raise CSMETRICS_SHUFFLE_PARTITIONS" in message and "CSMETRICS_DRIVER_MEMORY" in message


def test_a_broadcast_too_large_for_the_driver_names_the_settings_to_change():
    error = RuntimeError(
        "An error occurred while calling o31237.localCheckpoint.\n: org.apache.spark.SparkException: Not enough memory to build "
        "and broadcast the table to all worker nodes."
    )
    assert describe(error).startswith("Spark ran out of memory (Not enough memory to build and broadcast)")
