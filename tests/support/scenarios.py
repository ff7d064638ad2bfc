"""The feature scenarios run under both orchestrators, and the injector × reader pairs.

A ``Scenario`` says what step the external script runs in (assets, partitions, op), how it is
bootstrapped, and what the orchestrator is expected to inject; both the Dagster definitions and
pipes_fast's ``StepContext`` are built from it.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any, Literal
from zoneinfo import ZoneInfo

from support import SCRIPTS
from support.scripts import payloads

PIPES_SCRIPT = SCRIPTS / "pipes_script.py"
"""Written with dagster-pipes; runs the scenario its ``--scenario`` names."""
EXTERNAL_SCRIPT = SCRIPTS / "external_script.py"
"""Written with pipes_fast.external; runs the scenario its "scenario" extra names."""

AssetPath = tuple[str, ...]
Bootstrap = Literal["env", "cli", "session"]
"""The client (params in the environment), or a session and a subprocess given them as CLI
arguments or environment variables."""

INJECTORS = ("env", "file", "tempfile")
READERS = ("file", "tempfile")
PAIRS: tuple[tuple[str, str], ...] = tuple(itertools.product(INJECTORS, READERS))

CONTEXT_FILE = "context.json"
MESSAGES_FILE = "messages.jsonl"


def make_pair(api: ModuleType, pair: tuple[str, str], workdir: Path, *, include_stdio: bool) -> tuple[Any, Any]:
    """A context injector and a message reader from ``api`` (``dagster`` or ``pipes_fast``).

    Both packages spell the classes the same way; the file variants write under ``workdir``.
    """
    injector_name, reader_name = pair
    injectors = {
        "env": lambda: api.PipesEnvContextInjector(),
        "file": lambda: api.PipesFileContextInjector(str(workdir / CONTEXT_FILE)),
        "tempfile": lambda: api.PipesTempFileContextInjector(),
    }
    readers = {
        "file": lambda: api.PipesFileMessageReader(
            str(workdir / MESSAGES_FILE), include_stdio_in_messages=include_stdio
        ),
        "tempfile": lambda: api.PipesTempFileMessageReader(include_stdio_in_messages=include_stdio),
    }
    return injectors[injector_name](), readers[reader_name]()


@dataclass(frozen=True)
class PartitionCase:
    """A partitioned step: the Dagster partitions definition and what pipes_fast is given."""

    kind: Literal["static", "daily", "hourly"]
    key: str | None  # a single-partition run, else a range run
    key_range: tuple[str, str]
    time_window: tuple[datetime, datetime] | None
    # how the range and the window are handed to StepContext (its accepted spellings)
    range_form: Literal["tuple", "mapping"] = "tuple"
    window_form: Literal["datetimes", "iso"] = "datetimes"
    timezone: str = "UTC"
    static_keys: tuple[str, ...] = ()
    start: str = "2024-01-01"

    def wire(self) -> dict[str, Any]:
        """The partition fields of the context data, as they travel."""
        window = self.time_window
        return {
            "partition_key": self.key,
            "partition_key_range": {"start": self.key_range[0], "end": self.key_range[1]},
            "partition_time_window": None
            if window is None
            else {"start": window[0].isoformat(), "end": window[1].isoformat()},
        }

    def step_context_kwargs(self) -> dict[str, Any]:
        """The partition arguments of pipes_fast's StepContext."""
        start, end = self.key_range
        window: Any = self.time_window
        if window is not None and self.window_form == "iso":
            window = (window[0].isoformat(), window[1].isoformat())
        return {
            "partition_key": self.key,
            "partition_key_range": (start, end) if self.range_form == "tuple" else {"start": start, "end": end},
            "partition_time_window": window,
        }


@dataclass(frozen=True)
class Scenario:
    """One feature scenario: the script it runs and the step it runs in."""

    id: str
    script: str | None  # pipes_script.py's --scenario; None for another program
    # (path, code version); empty for an op step
    assets: tuple[tuple[AssetPath, str | None], ...] = ()
    checks: tuple[tuple[AssetPath, str], ...] = ()
    partition: PartitionCase | None = None
    bootstrap: Bootstrap = "env"
    include_stdio: bool = False
    fails: bool = False
    # materialize once beforehand (with an upstream asset) so the step has provenance
    seed_run: bool = False
    # the op fails its first attempt, so the script runs with retry_number 1
    retry: bool = False
    # Dagster is the reference for this scenario; where it is not (Dagster 1.13 injects no
    # partition data at all for a multi-partition range run), pipes_fast is checked against
    # ``expected_context`` only
    dagster_reference: bool = True
    # pass code versions to StepContext (else it is left to the default: None per asset)
    pass_code_versions: bool = True
    provenance: Mapping[AssetPath, Mapping[str, Any] | None] | None = None
    dagster_pair: tuple[str, str] = ("tempfile", "tempfile")
    extras: Mapping[str, Any] = field(default_factory=lambda: dict(payloads.EXTRAS))
    program: Path = PIPES_SCRIPT
    arguments: tuple[str, ...] = ()  # more of the program's command line

    @property
    def is_asset_step(self) -> bool:
        return bool(self.assets)

    @property
    def sorted_paths(self) -> list[AssetPath]:
        """Asset paths in the order Dagster injects them (sorted)."""
        return sorted(path for path, _ in self.assets)

    def command(self, *extra: str) -> list[str]:
        """The command line that runs the script for this scenario."""
        scenario = ["--scenario", self.script] if self.script else []
        cli = ["--cli-bootstrap"] if self.bootstrap == "cli" else []
        return [sys.executable, str(self.program), *scenario, *cli, *self.arguments, *extra]

    def expected_context(self) -> dict[str, Any]:
        """What the script must report of its context (run_id and job_name left out)."""
        expected: dict[str, Any] = {
            "is_asset_step": self.is_asset_step,
            "is_partition_step": self.partition is not None,
            "retry_number": 1 if self.retry else 0,
            "extras": dict(self.extras),
        }
        if self.is_asset_step:
            versions = dict(self.assets)
            keys = [escaped(path) for path in self.sorted_paths]
            expected["asset_keys"] = keys
            expected["code_version_by_asset_key"] = {escaped(path): versions[path] for path in self.sorted_paths}
            expected["provenance_by_asset_key"] = {
                escaped(path): None if self.provenance is None else self.provenance[path] for path in self.sorted_paths
            }
            if len(keys) == 1:
                expected["code_version"] = versions[self.sorted_paths[0]]
                expected["provenance"] = expected["provenance_by_asset_key"][keys[0]]
        if self.partition is not None:
            expected.update(self.partition.wire())
        return expected


def escaped(path: AssetPath) -> str:
    """An asset key path as an escaped user string (how keys travel)."""
    return "/".join(part.replace("\\", "\\\\").replace("/", "\\/") for part in path)


_UTC = ZoneInfo("UTC")
_NEW_YORK = ZoneInfo("America/New_York")

SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        id="assets",
        script="assets",
        # every asset has a code version: without one, Dagster records the run id in provenance
        assets=((payloads.CUSTOMERS, "v0"), (payloads.LINES, "v2"), (payloads.ORDERS, "v1")),
        checks=tuple((path, name) for path, name, *_ in payloads.CHECKS),
        seed_run=True,
        provenance={
            path: {
                "code_version": version,
                "input_data_versions": {escaped(payloads.UPSTREAM): "raw-1"},
                "is_user_provided": path == payloads.ORDERS,
            }
            for path, version in (
                (payloads.CUSTOMERS, "v0"),
                (payloads.LINES, "v2"),
                (payloads.ORDERS, "v1"),
            )
        },
    ),
    Scenario(
        id="assets_cli",
        script="assets",
        assets=((payloads.CUSTOMERS, None), (payloads.LINES, None), (payloads.ORDERS, None)),
        checks=tuple((path, name) for path, name, *_ in payloads.CHECKS),
        bootstrap="cli",
        pass_code_versions=False,
        dagster_pair=("env", "file"),
    ),
    Scenario(
        id="static_partition",
        script="partitioned",
        assets=((("sales", "by_region"), "p1"),),
        partition=PartitionCase(
            kind="static",
            key="us",
            key_range=("us", "us"),
            time_window=None,
            range_form="mapping",
            static_keys=("eu", "us", "apac"),
        ),
    ),
    Scenario(
        id="daily_range",
        script="partitioned",
        assets=((("sales", "daily"), None),),
        pass_code_versions=False,
        dagster_reference=False,
        partition=PartitionCase(
            kind="daily",
            key=None,
            key_range=("2024-01-02", "2024-01-04"),
            time_window=(datetime(2024, 1, 2, tzinfo=_UTC), datetime(2024, 1, 5, tzinfo=_UTC)),
            window_form="iso",
        ),
    ),
    Scenario(
        id="hourly_dst",
        script="partitioned",
        assets=((("sales", "hourly"), "h1"),),
        partition=PartitionCase(
            kind="hourly",
            key="2024-03-10-01:00",  # the next hour, 02:00, does not exist in New York that day
            key_range=("2024-03-10-01:00", "2024-03-10-01:00"),
            time_window=(
                datetime(2024, 3, 10, 1, tzinfo=_NEW_YORK),
                datetime(2024, 3, 10, 3, tzinfo=_NEW_YORK),
            ),
            timezone="America/New_York",
            start="2024-03-01-00:00",
        ),
    ),
    Scenario(id="op_retry", script="op", retry=True),
    Scenario(id="fail", script="fail", assets=((("fail", "target"), None),), fails=True),
    Scenario(id="stdio", script="stdio", assets=((("stdio", "target"), None),), include_stdio=True),
    Scenario(
        id="edge_values",
        script="edge_values",
        assets=tuple((path, None) for path in payloads.EDGE_VALUES),
    ),
)

SCENARIOS_BY_ID: dict[str, Scenario] = {scenario.id: scenario for scenario in SCENARIOS}
