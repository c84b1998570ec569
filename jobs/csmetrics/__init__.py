"""csmetrics: daily customer-service metrics for every shop of a marketplace."""

DEFINITION_VERSION = "v1"
