"""External scripts written with pipes_fast.external, and the harness that runs them under Dagster and pipes_fast."""
