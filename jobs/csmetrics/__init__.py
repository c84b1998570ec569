"""csmetrics: daily customer-service metrics for every shop of a marketplace."""

import logging

DEFINITION_VERSION = "v1"

# GX logs at INFO while it is being imported (dozens of lines from its docs decorators and
# metric registry), before any run has set up its logs (csmetrics.logs): keep those out of
# terminals and Airflow task logs from the start.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
