"""Interop tests: real ``dagster-pipes`` scripts under pipes_fast and under Dagster."""
