"""Without an orchestrator, pipes_fast's no-op context behaves like dagster-pipes' MagicMock: the same
standalone script, run once importing each package, prints the same thing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

# name -> a snippet run against ``p = open_dagster_pipes()``; it prints through ``show``, which names
# any no-op value "<noop>" (MagicMock's repr holds an id), and an escaping exception prints its type.
SNIPPETS = {
    "int": "show(int(p.get_extra('n')), int(p + 1))",
    "float": "show(float(p.get_extra('x')), float(p * 2), math.sqrt(p.extras['n']))",
    "complex": "show(complex(p.extras['c']))",
    "bool": "show(bool(p), bool(p.partition_key), p.is_asset_step and 'yes', p.get_extra('x') or 5)",
    "str": "show(str(p) == repr(p) == f'{p}' == format(p, ''), isinstance(str(p.asset_key), str))",
    "format-spec": "show(f'{p:>5}')",
    "percent-format": "show('%d|%.1f|%x' % (p.get_extra('n'), p.get_extra('n'), p.get_extra('n')))",
    "index": "show(operator.index(p.extras), [10, 20, 30][p.extras], list(range(p.extras)), bytes(p.extras))",
    "len-and-in": "show(len(p.extras), 'k' in p.extras, p in [p], p.extras in [1, 2])",
    "iteration": "show(list(p.extras['items']), list(reversed(p.extras)), sum(p.extras), max(p.extras, default=7))",
    "for": "for x in p.extras['items']:\n    show(x)\nfor k, v in p.extras.items():\n    show(k)\nshow('done')",
    "next": "show(next(iter(p.extras), None), next(p.extras), next(p.extras) is next(p.extras))",
    "unpack": "a, b = p.get_extra('pair')",
    "unpack-divmod": "q, r = divmod(p.get_extra('n'), 2)",
    "binary": "show(p + 1, p - 1, p * 2, p / 2, p // 2, p % 2, p ** 2, p @ p, p << 1, p >> 1, p & 1, p | 1, p ^ 1)",
    "reflected": "show(1 + p, 1 - p, 2 * p, 1 / p, 1 // p, 1 % p, 2 ** p, 1 << p, 1 >> p, 1 & p, 1 | p, 1 ^ p)",
    "sequence-operands": "show('ab' * p, p * 'ab', [1] + p, 'a' + p, p + 'a')",
    "unary": "show(-p, +p, ~p, abs(p), round(p), round(p, 2), math.floor(p), math.ceil(p), math.trunc(p))",
    "divmod": "show(divmod(p, 2), divmod(2, p))",
    "augmented": "n = p.get_extra('n')\nn += 1\nn -= 2\nn *= 3\nn /= 4\nn **= 2\nn |= 1\nshow(n, n is p)",
    "accumulate": "total = 0\nfor _ in range(3):\n    total += p.get_extra('w')\nshow(total, int(total))",
    "equality": "show(p == p, p != p, p == 1, p != 1, p.a == p.a, p.a == p.b, p.a == p, p.extras != p.extras)",
    "same-child": "show(p.f(1) == p.f(2), p[0] == p['k'], p + 1 == p + 2, p + 1 == p - 1, p.a is p.a, p.a() is p.a)",
    "lt": "show(p < 1)",
    "le": "show(p <= p)",
    "gt": "show(2 > p.get_extra('n'))",
    "ge": "show(p.a >= p.b)",
    "sorted": "show(sorted([p.a, p.b]))",
    "max": "show(max(1, p))",
    "hash": "show(hash(p) == hash(p), len({p, p, p.a, p.a, p.b}), {p: 1}[p])",
    "getitem": "show(p['k'], p.extras['a']['b'], p.get_extra('d').get('k', 3))",
    "setitem": "p.extras['k'] = 5\nshow(p.extras['k'])\ndel p.extras['k']\nshow('deleted')",
    "setattr": "p.flag = 5\np.log.level = 'x'\nshow(p.flag, p.log.level, p.other.flag)",
    "call": "show(p(), p(1, x=2), p.log.info('x'), p.report_asset_materialization(metadata={'a': 1}))",
    "with": "with p as q:\n    q.report_custom_message({'a': 1})\n    show(q, q is p)\nshow(p.__exit__(None, None, None))",
    "with-raises": "with p:\n    raise ValueError('through')",
    "same-context": "show(open_dagster_pipes() is p)",
    "dunder-probes": "show(hasattr(p, '__array__'), getattr(p, '__deepcopy__', None), hasattr(p, 'anything'))",
    "callable": "show(callable(p), callable(p.asset_key), isinstance(p, (int, str, list, dict)))",
    "copy": "show(copy.copy(p), copy.deepcopy(p.extras))",
    "path": "show(isinstance(os.fspath(p), str), (pathlib.Path(p.get_extra('out')) / 'x').name,"
    " os.path.exists(p.get_extra('out')))",
    "json": "show(json.dumps(p.extras))",
    "await": "async def main():\n    await p.get_extra('x')\nasyncio.run(main())",
}

HARNESS = """\
import asyncio, copy, json, math, operator, os, pathlib, sys, warnings
warnings.simplefilter("ignore")
{imports}
p = open_dagster_pipes()

def show(*values):
    print(*("<noop>" if isinstance(value, NOOP) else repr(value) for value in values))

for name, source in {snippets!r}.items():
    print(f"### {{name}}")
    try:
        exec(source, dict(globals()))
    except Exception as error:
        print(type(error).__name__)
print("### unittest.mock loaded", "unittest.mock" in sys.modules, sep="\\n")
"""

IMPORTS = {
    "dagster_pipes": "from dagster_pipes import open_dagster_pipes\nfrom unittest.mock import MagicMock as NOOP",
    "pipes_fast": "from pipes_fast.external import open_dagster_pipes\n"
    "from pipes_fast.external.context import _InertContext as NOOP",
}


def run_standalone(package: str) -> dict[str, str]:
    """What each snippet printed in a real process with ``package`` and no orchestrator, by name."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("DAGSTER_PIPES_")}
    script = HARNESS.format(imports=IMPORTS[package], snippets=SNIPPETS)
    process = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert process.returncode == 0, process.stderr
    blocks = f"\n{process.stdout}".split("\n### ")[1:]
    return {name: printed for name, _, printed in (block.partition("\n") for block in blocks)}


@pytest.fixture(scope="module")
def printed() -> dict[str, dict[str, str]]:
    """Each package's standalone run."""
    return {package: run_standalone(package) for package in IMPORTS}


@pytest.mark.parametrize("name", SNIPPETS)
def test_a_standalone_script_runs_as_with_dagster_pipes(printed: dict[str, dict[str, str]], name: str) -> None:
    assert printed["pipes_fast"][name] == printed["dagster_pipes"][name]


def test_the_no_op_context_does_without_unittest_mock(printed: dict[str, dict[str, str]]) -> None:
    assert printed["dagster_pipes"]["unittest.mock loaded"] == "True\n"
    assert printed["pipes_fast"]["unittest.mock loaded"] == "False\n"
