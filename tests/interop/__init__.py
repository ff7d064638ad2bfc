"""Interop tests: the real ``dagster-pipes`` external side against pipes_fast and Dagster orchestrators."""
