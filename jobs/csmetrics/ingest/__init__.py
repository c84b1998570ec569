"""Landing zone -> bronze Delta tables, with quarantine for everything that is not valid."""
