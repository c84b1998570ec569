"""Great Expectations gates between computation and publication."""
