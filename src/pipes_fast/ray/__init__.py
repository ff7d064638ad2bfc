"""pipes_fast on Ray: external processes as Ray jobs, messages back through the job's log.

::

    from pipes_fast import StepContext
    from pipes_fast.ray import PipesRayJobClient

    client = PipesRayJobClient("http://127.0.0.1:8265", poll_interval=0.2)
    client.run(context=StepContext("orders"), submit_job_params={"entrypoint": "python job.py"}).get_results()

Inside Dagster, switch from dagster-ray by importing ``pipes_fast.dagster.ray.PipesRayJobClient``
(same arguments, a Dagster context): results are Dagster's types, and a retried step reattaches to
the job its earlier attempt launched, if that job is still running or succeeded, instead of
launching another. ``local_cluster()`` (``pipes_fast.ray.local_cluster``) starts a throwaway
cluster on 127.0.0.1 for tests. Needs the ``ray`` extra (``ray[default]``); the rest of pipes_fast
never imports Ray.
"""

try:
    import ray.job_submission as _job_submission  # noqa: F401 - only to say clearly what is missing
except ImportError as missing:
    raise ImportError(
        "pipes_fast.ray needs Ray's job client: pip install 'ray[default]' "
        "(in a pipes_fast checkout: pip install '.[ray]')"
    ) from missing

from pipes_fast.ray._client import STOP_WAIT_SECONDS, UNREACHABLE_SECONDS, PipesRayJobClient
from pipes_fast.ray._logs import LAUNCHED_ADDRESS, LAUNCHED_JOB_ID, PipesRayJobMessageReader

__all__ = [
    "LAUNCHED_ADDRESS",
    "LAUNCHED_JOB_ID",
    "STOP_WAIT_SECONDS",
    "UNREACHABLE_SECONDS",
    "PipesRayJobClient",
    "PipesRayJobMessageReader",
]
