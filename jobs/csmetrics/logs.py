"""Where output goes: progress and results on stdout, the libraries' own log lines in a file.

Spark's JVM logs through log4j2 (`log4j2.properties` beside this module), GX and py4j through
Python's logging. Both keep their warnings in CSMETRICS_LOG_FILE and show the terminal (and
so an Airflow task log, which files a task's stderr at error level) only errors, unless
CSMETRICS_CONSOLE_LOG_LEVEL (the CLI's --verbose) asks for more.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from csmetrics.config import Settings

LOG4J2 = Path(__file__).with_name("log4j2.properties")
# Python libraries that log at INFO what a run's user does not need (GX: one line per
# expectation and store operation), and the local file system's build, whose fallback to
# Hadoop's raw one costs speed, not results (csmetrics.local_fs).
CHATTY_LIBRARIES = ("great_expectations", "py4j", "csmetrics.local_fs")
HANDLERS = ("csmetrics-log-file", "csmetrics-terminal")
LEVELS = {"error": logging.ERROR, "warn": logging.WARNING, "info": logging.INFO}


def driver_java_options(settings: Settings) -> str:
    """The driver JVM's options that point log4j2 at the project's configuration."""
    return " ".join(
        (
            f"-Dlog4j2.configurationFile={LOG4J2.as_uri()}",
            f"-Dcsmetrics.log.file={settings.log_file}",
            f"-Dcsmetrics.console.level={settings.console_log_level}",
        )
    )


def route_library_logs(settings: Settings) -> None:
    """GX's and py4j's warnings to the log file, and to the terminal from the console level."""
    Path(settings.log_file).parent.mkdir(parents=True, exist_ok=True)
    to_file = logging.FileHandler(settings.log_file)
    to_file.setLevel(logging.WARNING)
    to_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [pid %(process)d]: %(message)s"))
    to_terminal = logging.StreamHandler(sys.stderr)
    to_terminal.setLevel(LEVELS[settings.console_log_level])
    to_terminal.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in CHATTY_LIBRARIES:
        logger = logging.getLogger(name)
        for handler in [h for h in logger.handlers if h.get_name() in HANDLERS]:
            logger.removeHandler(handler)
            handler.close()
        for handler, handler_name in zip((to_file, to_terminal), HANDLERS):
            handler.set_name(handler_name)
            logger.addHandler(handler)
        logger.setLevel(min(LEVELS[settings.console_log_level], logging.WARNING))
        # Not to the root handlers: Airflow's would file every INFO line in the task log.
        logger.propagate = False
