"""Table schemas as code: the one source of truth for landing, bronze, gold and tests.

Each raw table of SPEC §2 is a `RawTable` in `schemas.raw`; each gold table of SPEC §5
is a StructType in `schemas.gold`. Ingestion reads landing files with them, the jobs
create Delta tables from them and the tests build fixtures from them.
"""
