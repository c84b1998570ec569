"""csmetrics: daily customer-service metrics for every shop of a marketplace."""

import logging

# Stamped on every metric row. v2: an auto-reply is no human reply even when an agent's
# account sends it (SPEC §3, clarified); rows computed before carry v1 until restated.
DEFINITION_VERSION = "v2"

# GX logs at INFO while it is being imported (dozens of lines from its docs decorators and
# metric registry), before any run has set up its logs (csmetrics.logs): keep those out of
# terminals and Airflow task logs from the start.
logging.getLogger("great_expectations").setLevel(logging.WARNING)
