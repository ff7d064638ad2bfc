"""Fan-out (issue 12): one orchestrator running N Ray jobs at once, each streaming M custom messages.

    python bench/experiments/ray_fanout.py --jobs 8 --messages 100000 --runs 3 [--single] [--baseline] [--json]

Each job (``ray_job_child.py``) reports ``{"job": j, "seq": i}`` for i in 0..M-1 through
``pipes_fast.external.open_dagster_pipes`` on its stdout, then its own writing time. The
orchestrator (this process) runs one ``pipes_fast.ray.PipesRayJobClient.run`` per thread, all
threads sharing one client (as a resource would be shared), each with its own
``pipes_fast.StepContext``; messages come back through the client's default reader (the job's
log, stdio transport). Per job, every message must arrive exactly once and in order, else the
script exits 1.

Reported per run: the wall time from the first submit to the last ``run()`` returning, the
aggregate throughput, this process's CPU time over the fan-out (all its threads:
``getrusage(RUSAGE_SELF)`` user + sys) as seconds, as a fraction of the wall time and per million
messages, and the split of the wall time by the jobs' own clocks: start-up (first submit to the
first job writing), writing (first job starting to write to the last one done) and return (last
job done writing to the last ``run()`` returning), and how long after Ray's end time of its job
each ``run()`` returned. Whether the jobs ran at the same time: how
many were writing at once at most and over how long they started writing (their own clocks), and
whether Ray's start-end intervals of the jobs overlap (Ray's start is the submission, before the
entrypoint's process starts). Also the CPU of Ray's processes over the fan-out (its servers,
agents and workers, not the jobs: on the same 2-vCPU machine they compete with the orchestrator),
the jobs' own CPU, and how busy the whole machine was (``/proc/stat``, other users included).

``--single`` adds one job of M messages per round, for scale. ``--baseline`` adds the same
fan-out inside Dagster, through dagster-ray's ``PipesRayJobClient`` (it needs a Dagster context:
every thread gets the context of one live ``dagster.materialize`` asset body, and a dagster-ray
client of its own, whose reader is per client) and through pipes_fast.dagster.ray's with the same context;
dagster-ray's losses are counted, never fatal. Without
``--address``, a throwaway local cluster (``pipes_fast.ray.local_cluster``) runs the jobs.
Output forwarded from the jobs' logs goes to stderr, so that ``--json`` leaves only the JSON on
stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, redirect_stdout
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

from pipes_fast import StepContext
from pipes_fast.ray import PipesRayJobClient
from pipes_fast.ray.local_cluster import local_cluster

CHILD = Path(__file__).with_name("ray_job_child.py")
"""The job's script: ``ray_job_child.py JOB MESSAGES WRITER``."""
JOBS, MESSAGES, RUNS = 8, 100_000, 3
"""Issue 12's fan-out: 8 jobs at once, 100k custom messages each; rounds at full scale."""
JOIN_SECONDS = 1200.0
"""Bound on the wait for a fan-out's threads (every ``run()`` has its own ``timeout`` too)."""

PIPES_FAST, PIPES_FAST_IN_DAGSTER, DAGSTER_RAY = "pipes_fast.ray", "pipes_fast.ray in Dagster", "dagster_ray"
"""The sides: pipes_fast's client with ``StepContext``s, then pipes_fast's and dagster-ray's
clients inside a Dagster asset."""

RunJob = Callable[[int, dict[str, Any]], Sequence[Any]]
"""Runs job ``j`` with the given submit params through a client; returns its custom messages."""


@dataclass
class Delivery:
    """What one job's custom messages were, against what it sent."""

    sent: int
    delivered: int
    unique: int
    in_order: bool
    in_range: bool
    foreign: int
    timing: Optional[dict[str, float]]

    @property
    def exact(self) -> bool:
        """All sent, each once, in order, none of another job's, and the job's timing."""
        return (
            self.delivered == self.unique == self.sent
            and self.in_order
            and self.in_range
            and not self.foreign
            and self.timing is not None
        )


def delivery(job: int, sent: int, payloads: Sequence[Any]) -> Delivery:
    """Compare ``payloads`` (a job's custom messages, in the order delivered) with what job ``job`` sent."""
    seqs: list[int] = []
    foreign = 0
    timing = None
    for payload in payloads:
        if not isinstance(payload, dict) or payload.get("job") != job:
            foreign += 1
        elif "timing" in payload:
            timing = payload["timing"]
        else:
            seqs.append(payload["seq"])
    in_order = all(a < b for a, b in zip(seqs, seqs[1:]))
    in_range = all(0 <= seq < sent for seq in seqs)
    return Delivery(sent, len(seqs), len(set(seqs)), in_order, in_range, foreign, timing)


def submit_params(job: int, messages: int, writer: str = "pipes_fast") -> dict[str, Any]:
    """Submit params for job ``job`` under this interpreter (a submission id of its own, the
    pure/compiled choice passed on)."""
    env_vars = {k: v for k, v in os.environ.items() if k == "PIPES_FAST_NO_EXTENSIONS"}
    return {
        "entrypoint": f"{sys.executable} {CHILD} {job} {messages} {writer}",
        "runtime_env": {"env_vars": env_vars},
        "submission_id": f"fanout-{job}-{uuid.uuid4().hex[:12]}",
    }


@dataclass
class JobRecord:
    """One job of a fan-out: when ``run()`` was called and returned (``time.time()``), what it
    delivered or the error it raised, and when Ray says the job started and ended."""

    job: int
    submission_id: str
    submitted: float
    returned: float = 0.0
    delivery: Optional[Delivery] = None
    error: Optional[str] = None
    ray_start: Optional[float] = None
    ray_end: Optional[float] = None


@dataclass
class FanOut:
    """One fan-out run and its figures (seconds; ``time.time()`` for instants)."""

    side: str
    jobs: int
    messages: int
    wall_seconds: float
    cpu_user: float
    cpu_sys: float
    machine_busy: Optional[float]
    ray_cpu: Optional[float]
    records: list[JobRecord] = field(default_factory=list)

    @property
    def cpu_seconds(self) -> float:
        return self.cpu_user + self.cpu_sys

    @property
    def delivered(self) -> int:
        return sum(r.delivery.delivered for r in self.records if r.delivery)

    @property
    def exact(self) -> bool:
        """Every job succeeded and delivered all its messages once, in order."""
        return all(r.delivery is not None and r.delivery.exact and r.error is None for r in self.records)

    def _timings(self) -> list[dict[str, float]]:
        return [r.delivery.timing for r in self.records if r.delivery and r.delivery.timing]

    def figures(self) -> dict[str, Any]:
        """The reported figures of this run."""
        total = self.jobs * self.messages
        first_submit = min(r.submitted for r in self.records)
        last_return = max(r.returned for r in self.records)
        out: dict[str, Any] = {
            "side": self.side,
            "jobs": self.jobs,
            "messages_per_job": self.messages,
            "sent": total,
            "delivered": self.delivered,
            "exact": self.exact,
            "errors": [f"job {r.job}: {r.error}" for r in self.records if r.error],
            "inexact_jobs": [
                {"job": r.job, **asdict(r.delivery)} for r in self.records if r.delivery and not r.delivery.exact
            ],
            "wall_seconds": self.wall_seconds,
            "throughput_per_second": self.delivered / self.wall_seconds,
            "cpu_seconds": self.cpu_seconds,
            "cpu_user": self.cpu_user,
            "cpu_sys": self.cpu_sys,
            "cpu_fraction_of_wall": self.cpu_seconds / self.wall_seconds,
            "cpu_seconds_per_million": self.cpu_seconds / max(self.delivered, 1) * 1e6,
            "machine_busy_fraction": self.machine_busy,
            "ray_cpu_seconds": self.ray_cpu,
        }
        timings = self._timings()
        if len(timings) == len(self.records):
            write_start = min(t["start"] for t in timings)
            write_end = max(t["end"] for t in timings)
            writing = write_end - write_start
            out.update(
                {
                    "startup_seconds": write_start - first_submit,
                    "writing_seconds": writing,
                    "return_seconds": last_return - write_end,
                    "job_write_seconds": sorted(t["seconds"] for t in timings),
                    "jobs_cpu_seconds": sum(t.get("cpu", 0.0) for t in timings),
                    "job_write_start_after_first_submit": sorted(t["start"] - first_submit for t in timings),
                    "throughput_while_writing": total / writing if writing > 0 else None,
                    "wall_minus_writing_seconds": self.wall_seconds - writing,
                    "writing_overlapped": max(t["start"] for t in timings) < min(t["end"] for t in timings),
                    "most_jobs_writing_at_once": most_at_once([(t["start"], t["end"]) for t in timings]),
                    "write_start_spread_seconds": max(t["start"] for t in timings) - write_start,
                    "return_lag_seconds": sorted(
                        r.returned - r.delivery.timing["end"] for r in self.records if r.delivery and r.delivery.timing
                    ),
                }
            )
        ray_starts = [r.ray_start for r in self.records if r.ray_start is not None]
        ray_ends = [r.ray_end for r in self.records if r.ray_end is not None]
        if len(ray_starts) == len(ray_ends) == len(self.records):
            out["ray_jobs_overlapped"] = max(ray_starts) < min(ray_ends)
            out["ray_start_spread_seconds"] = max(ray_starts) - min(ray_starts)
            out["ray_job_seconds"] = sorted(e - s for s, e in zip(ray_starts, ray_ends))
            after_end = sorted(r.returned - e for r, e in zip(self.records, ray_ends))
            out["return_after_ray_end_seconds"] = after_end
            out["slowest_return_after_ray_end_seconds"] = after_end[-1]
        return out


def most_at_once(intervals: Sequence[tuple[float, float]]) -> int:
    """The largest number of ``(start, end)`` intervals that overlap at one instant."""
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    most = current = 0
    for _, step in events:  # at a tie, an end (-1) sorts before a start: touching is not overlapping
        current += step
        most = max(most, current)
    return most


def _machine_ticks() -> Optional[tuple[int, int]]:
    """(busy, total) clock ticks of all CPUs from ``/proc/stat``; None off Linux."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_stat(pid: str) -> Optional[list[str]]:
    """The fields of ``/proc/PID/stat`` after ``pid (comm)``; None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def cluster_session(address: str) -> Optional[int]:
    """The session id of the local cluster whose dashboard serves ``address`` (all its processes
    share it); None if it is not on this machine (or not Linux)."""
    port = address.rstrip("/").rsplit(":", 1)[-1]
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else ():
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"dashboard.py") for part in command) and f"--port={port}".encode() in command:
            fields = _proc_stat(entry.name)
            return int(fields[3]) if fields else None
    return None


def session_cpu(session: int) -> float:
    """CPU seconds of a session's live processes (``utime`` + ``stime``): over a window, the CPU of
    Ray's servers, agents and workers (a worker that ends within the window takes its share with
    it). The jobs' processes have sessions of their own and are not counted; they report their own."""
    ticks = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _proc_stat(entry.name)) and int(fields[3]) == session:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICK


def fan_out(
    side: str,
    run_job: RunJob,
    job_client: Any,
    jobs: int,
    messages: int,
    writer: str = "pipes_fast",
    cluster: Optional[int] = None,
) -> FanOut:
    """Run ``jobs`` jobs of ``messages`` messages at once, one thread each calling ``run_job``;
    measure the wall time, this process's CPU and what each job delivered.

    ``job_client`` (a ``JobSubmissionClient``) gives Ray's start and end times of each job;
    ``cluster`` (:func:`cluster_session`), the CPU Ray's processes used meanwhile.
    """
    go = threading.Event()
    records = [JobRecord(j, "", 0.0) for j in range(jobs)]

    def one(record: JobRecord) -> None:
        params = submit_params(record.job, messages, writer)
        record.submission_id = params["submission_id"]
        go.wait()
        record.submitted = time.time()
        try:
            payloads = run_job(record.job, params)
            record.delivery = delivery(record.job, messages, payloads)
        except BaseException as exc:  # recorded, reported, and the run counted as failed
            record.error = f"{type(exc).__name__}: {str(exc)[:500]}"
        finally:
            record.returned = time.time()

    threads = [threading.Thread(target=one, args=(r,), name=f"fanout-{r.job}", daemon=True) for r in records]
    for thread in threads:
        thread.start()
    ticks = _machine_ticks()
    cluster_before = session_cpu(cluster) if cluster is not None else 0.0
    usage = resource.getrusage(resource.RUSAGE_SELF)
    go.set()
    deadline = time.monotonic() + JOIN_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    after = resource.getrusage(resource.RUSAGE_SELF)
    ticks_after = _machine_ticks()
    ray_cpu = session_cpu(cluster) - cluster_before if cluster is not None else None
    for record, thread in zip(records, threads):
        if thread.is_alive():
            record.error = f"run() still going after {JOIN_SECONDS} s"
            record.returned = time.time()
    busy = None
    if ticks and ticks_after and ticks_after[1] > ticks[1]:
        busy = (ticks_after[0] - ticks[0]) / (ticks_after[1] - ticks[1])
    for record in records:
        try:
            info = job_client.get_job_info(record.submission_id)
            record.ray_start = info.start_time / 1000 if info.start_time else None
            record.ray_end = info.end_time / 1000 if info.end_time else None
        except Exception:
            pass
    wall = max(r.returned for r in records) - min(r.submitted for r in records)
    return FanOut(
        side,
        jobs,
        messages,
        wall,
        after.ru_utime - usage.ru_utime,
        after.ru_stime - usage.ru_stime,
        busy,
        ray_cpu,
        records,
    )


def pipes_fast_runner(address: str, poll_interval: float) -> tuple[RunJob, Any]:
    """One ``pipes_fast.ray.PipesRayJobClient`` shared by the threads, a ``StepContext`` per run;
    and its ``JobSubmissionClient``."""
    client = PipesRayJobClient(address, poll_interval=poll_interval)

    def run_job(job: int, params: dict[str, Any]) -> Sequence[Any]:
        return client.run(context=StepContext(), submit_job_params=params).get_custom_messages()

    return run_job, client.job_client


@contextmanager
def in_dagster_runners(address: str, poll_interval: float) -> Iterator[dict[str, RunJob]]:
    """``{side: run_job}`` inside the asset body of one live ``dagster.materialize`` run, whose
    context every thread shares: dagster-ray's ``PipesRayJobClient`` (one per run: its reader
    belongs to the client) and pipes_fast.dagster's (one shared)."""
    import warnings

    from dagster_ray.core.pipes import PipesRayJobClient as DagsterRayClient

    from pipes_fast.benchmarks._dagster import dagster_asset_context
    from pipes_fast.dagster.ray import PipesRayJobClient as FastDagsterClient

    warnings.filterwarnings("ignore", message="AssetExecutionContext.run_id is deprecated")
    fast = FastDagsterClient(address, poll_interval=poll_interval)
    with dagster_asset_context(["fanout"]) as context:

        def dagster_ray_job(job: int, params: dict[str, Any]) -> Sequence[Any]:
            client = DagsterRayClient(address, poll_interval=poll_interval)
            return client.run(context=context, submit_job_params=params).get_custom_messages()  # type: ignore[arg-type]

        def pipes_fast_job(job: int, params: dict[str, Any]) -> Sequence[Any]:
            return fast.run(context=context, submit_job_params=params).get_custom_messages()

        yield {DAGSTER_RAY: dagster_ray_job, PIPES_FAST_IN_DAGSTER: pipes_fast_job}


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


SUMMARISED = (
    "wall_seconds",
    "throughput_per_second",
    "cpu_seconds",
    "cpu_fraction_of_wall",
    "cpu_seconds_per_million",
    "ray_cpu_seconds",
    "jobs_cpu_seconds",
    "startup_seconds",
    "writing_seconds",
    "return_seconds",
    "throughput_while_writing",
    "wall_minus_writing_seconds",
    "write_start_spread_seconds",
    "most_jobs_writing_at_once",
    "slowest_return_after_ray_end_seconds",
)


def summary(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Min, median and max of each figure over ``runs`` (the figures of one side and shape)."""
    return {
        key: _spread([r[key] for r in runs])
        for key in SUMMARISED
        if all(isinstance(r.get(key), (int, float)) for r in runs)
    }


def describe(figures: dict[str, Any]) -> str:
    """One run's figures as a line of text."""
    text = (
        f"{figures['side']}: {figures['jobs']} x {figures['messages_per_job']:,} -> {figures['delivered']:,} delivered "
        f"({'exact' if figures['exact'] else 'NOT EXACT'}) in {figures['wall_seconds']:.2f} s = "
        f"{figures['throughput_per_second']:,.0f} msg/s; orchestrator CPU {figures['cpu_seconds']:.2f} s "
        f"({figures['cpu_fraction_of_wall']:.0%} of wall, {figures['cpu_seconds_per_million']:.2f} s per million)"
    )
    if "writing_seconds" in figures:
        text += (
            f"; start-up {figures['startup_seconds']:.2f} s + jobs writing {figures['writing_seconds']:.2f} s "
            f"+ return {figures['return_seconds']:.2f} s"
        )
    if "return_after_ray_end_seconds" in figures:
        after_end = figures["return_after_ray_end_seconds"]
        text += f" (run() returned {after_end[0]:.2f}-{after_end[-1]:.2f} s after Ray's end time of its job)"
    if "most_jobs_writing_at_once" in figures:
        text += (
            f"; at most {figures['most_jobs_writing_at_once']} jobs writing at once (they started writing "
            f"over {figures['write_start_spread_seconds']:.2f} s)"
        )
    if "ray_jobs_overlapped" in figures:
        text += f"; Ray's job start-end intervals overlapped: {figures['ray_jobs_overlapped']}"
    if figures["ray_cpu_seconds"] is not None:
        text += f"; Ray's processes' CPU {figures['ray_cpu_seconds']:.1f} s"
    if "jobs_cpu_seconds" in figures:
        text += f", the jobs' {figures['jobs_cpu_seconds']:.1f} s"
    if figures["machine_busy_fraction"] is not None:
        text += f"; machine busy {figures['machine_busy_fraction']:.0%}"
    for error in figures["errors"]:
        text += f"\n    {error}"
    return text


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=JOBS)
    parser.add_argument("--messages", type=int, default=MESSAGES, help="custom messages per job")
    parser.add_argument("--runs", type=int, default=RUNS, help="rounds (each: the fan-out, then the extras asked for)")
    parser.add_argument("--single", action="store_true", help="also one job of --messages per round")
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also the fan-out inside a Dagster asset, through dagster-ray and through pipes_fast.ray, per round",
    )
    parser.add_argument("--writer", choices=["pipes_fast", "dagster_pipes"], default="pipes_fast")
    parser.add_argument(
        "--poll-interval", type=float, default=1.0, help="both clients' poll_interval (their default: 1)"
    )
    parser.add_argument("--address", help="an existing cluster's dashboard address (default: a throwaway local one)")
    parser.add_argument("--num-cpus", type=int, default=2, help="the throwaway cluster's num_cpus")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on stdout")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the rounds; 0 if pipes_fast delivered every message exactly once in order, else 1."""
    args = parse_args(argv)
    report = sys.stdout
    runs: dict[str, list[dict[str, Any]]] = {}
    text_out = sys.stderr if args.json else report

    def say(line: str) -> None:
        print(line, file=text_out, flush=True)

    say(
        f"fan-out: {args.jobs} Ray jobs x {args.messages:,} custom messages, {args.runs} rounds, "
        f"writer {args.writer}, poll_interval {args.poll_interval}; this machine has {os.cpu_count()} vCPUs"
    )
    with ExitStack() as stack:
        address = args.address or stack.enter_context(local_cluster(num_cpus=args.num_cpus))
        cluster = cluster_session(address)
        stack.enter_context(redirect_stdout(sys.stderr))  # the jobs' forwarded output
        fast, job_client = pipes_fast_runner(address, args.poll_interval)
        in_dagster = stack.enter_context(in_dagster_runners(address, args.poll_interval)) if args.baseline else {}
        shapes: list[tuple[str, RunJob, int]] = [(PIPES_FAST, fast, args.jobs)]
        if args.single:
            shapes.append((f"{PIPES_FAST} single", fast, 1))
        shapes += [(side, run_job, args.jobs) for side, run_job in in_dagster.items()]
        for round_ in range(args.runs):
            for side, run_job, jobs in shapes:
                figures = fan_out(side, run_job, job_client, jobs, args.messages, args.writer, cluster).figures()
                runs.setdefault(f"{side} {jobs}x{args.messages}", []).append(figures)
                say(f"[round {round_ + 1}] {describe(figures)}")
    summaries = {key: summary(value) for key, value in runs.items()}
    for key, spread in summaries.items():
        say(f"{key}, over {len(runs[key])} rounds (min / median / max):")
        for figure, values in spread.items():
            say(f"    {figure}: {values['min']:.3g} / {values['median']:.3g} / {values['max']:.3g}")
    ok = all(f["exact"] for key, value in runs.items() if key.startswith(PIPES_FAST) for f in value)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    say(f"this process's peak RSS over all rounds: {peak_mb:.0f} MB")
    if args.json:
        json.dump(
            {
                "vcpus": os.cpu_count(),
                "args": vars(args),
                "runs": runs,
                "summary": summaries,
                "ok": ok,
                "orchestrator_peak_rss_mb": peak_mb,
            },
            report,
            indent=1,
            default=lambda o: asdict(o) if hasattr(o, "__dataclass_fields__") else str(o),
        )
        report.write("\n")
    if not ok:
        say("pipes_fast.ray did NOT deliver every message exactly once, in order")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
