"""The README and the docs say only what is true: every code block runs (or is an excerpt of an
example that ``test_examples.py`` runs), every command exists, every link and path resolves.

Blocks are fenced. A ``python`` block runs as a script from the repository root, unless its first
line is ``# examples/NAME.py``: then the rest is an excerpt, found line for line (indentation
aside) in that example. A ``bash`` block's commands are run when cheap (``pipes-fast``, ``python
-c``) and otherwise checked (``pip install`` names extras that exist, ``python`` runs a file that
exists, an example that ``test_examples.py`` runs). A block without a language is a usage
synopsis: every option it shows is in that subcommand's ``--help``.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
DOCUMENTS = ["README.md", "docs/ARCHITECTURE.md", "docs/PERFORMANCE.md", "docs/REFERENCE.md", "bench/README.md"]
EXCERPT = re.compile(r"# (examples/[\w.]+\.py)$")
FENCE = re.compile(r"^( *)```(\w*)$")
TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    language: str
    text: str

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def blocks(document: str) -> list[Block]:
    """The fenced blocks of ``document``, each dedented by its fence's indentation."""
    found, lines = [], (ROOT / document).read_text().splitlines()
    start = None
    for number, line in enumerate(lines, 1):
        fence = FENCE.match(line)
        if fence and start is None:
            start, language = number, fence.group(2)
        elif fence and start is not None:
            body = textwrap.dedent("\n".join(lines[start : number - 1])) + "\n"
            found.append(Block(document, start, language, body))
            start = None
    assert start is None, f"{document}:{start}: a code block is never closed"
    return found


ALL_BLOCKS = [block for document in DOCUMENTS for block in blocks(document)]


def of(language: str) -> list[Any]:
    return [pytest.param(block, id=block.id) for block in ALL_BLOCKS if block.language == language]


def test_every_block_has_a_language_this_test_checks() -> None:
    assert {block.language for block in ALL_BLOCKS} <= {"python", "bash", ""}


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) < 300


# ----- python


def examples_tested() -> str:
    return (ROOT / "tests" / "project" / "test_examples.py").read_text()


@pytest.mark.parametrize("block", of("python"))
def test_python_blocks_run(block: Block) -> None:
    first, _, rest = block.text.partition("\n")
    excerpt = EXCERPT.match(first)
    if excerpt:
        example = ROOT / excerpt.group(1)
        wanted = textwrap.dedent(rest).splitlines()
        lines = example.read_text().splitlines()
        windows = (textwrap.dedent("\n".join(lines[i : i + len(wanted)])).splitlines() for i in range(len(lines)))
        assert wanted in windows, f"{block.id} is not an excerpt of {excerpt.group(1)}"
        assert example.name in examples_tested(), f"tests/project/test_examples.py does not run {excerpt.group(1)}"
        return
    for module in ("dagster", "hypothesis"):
        if re.search(rf"^\s*(import|from) {module}\b", block.text, re.M) and find_spec(module) is None:
            pytest.skip(f"needs {module}")
    done = subprocess.run([sys.executable, "-c", block.text], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"{block.id} failed:\n{done.stderr[-3000:]}"


# ----- bash


def commands(block: Block) -> list[list[str]]:
    joined = block.text.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def extras() -> set[str]:
    """The extras pyproject.toml defines (tomllib is Python 3.11's: read the table's keys)."""
    table = (ROOT / "pyproject.toml").read_text().split("[project.optional-dependencies]")[1].split("\n[")[0]
    return set(re.findall(r"^([\w-]+) = ", table, re.M))


def check_install(argv: list[str]) -> None:
    for target in argv[argv.index("install") + 1 :]:
        if target.startswith("-"):
            continue
        match = re.fullmatch(r"\.(?:\[([\w,]+)\])?", target)
        assert match, f"{target!r}: install from the checkout ('.' or '.[extra]'), the project is not on an index"
        assert set((match.group(1) or "").split(",")) - {""} <= extras(), f"{target!r}: no such extra"


def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable if word == "python" else word for word in argv]
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT)


def check_command(argv: list[str]) -> None:
    if argv[0] == "pipes-fast":
        if argv[1:2] == ["bench"] and "--help" not in argv:  # a minute of measuring: its options only
            argv = ["pipes-fast", "bench", "--help"]
        done = run(["python", "-m", "pipes_fast", *argv[1:]])
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    elif argv[:4] == ["python", "-m", "pip", "install"]:
        check_install(argv)
    elif argv[:3] == ["python", "-m", "pytest"]:
        for path in (word.split("::")[0] for word in argv[3:] if not word.startswith("-")):
            assert (ROOT / path).exists(), f"{shlex.join(argv)}: no {path}"
    elif argv[:2] == ["python", "-c"]:
        done = run(argv)
        assert done.returncode == 0, f"{shlex.join(argv)}:\n{done.stderr[-2000:]}"
    elif argv[0] == "python":
        script = argv[1]
        assert (ROOT / script).is_file(), f"{shlex.join(argv)}: no {script}"
        if script.startswith("examples/"):
            assert Path(script).name in examples_tested(), f"tests/project/test_examples.py does not run {script}"
    else:
        raise AssertionError(f"{shlex.join(argv)}: a command this test does not know how to check")


@pytest.mark.parametrize("block", of("bash"))
def test_shell_blocks_run(block: Block) -> None:
    for argv in commands(block):
        check_command(argv)


@pytest.mark.parametrize("block", of(""))
def test_synopses_match_the_help(block: Block) -> None:
    argv = shlex.split(block.text.split("[", 1)[0])
    assert argv[0] == "pipes-fast", f"{block.id}: a block without a language is a pipes-fast synopsis"
    done = run(["python", "-m", "pipes_fast", *argv[1:], "--help"])
    assert done.returncode == 0, done.stderr
    for option in set(re.findall(r"--[a-z][a-z-]*", block.text)):
        assert option in done.stdout, f"{block.id}: {option} is not in {shlex.join(argv)} --help"


# ----- links and paths

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
CODE = re.compile(r"`([^`\s]+)`")
PATHLIKE = re.compile(r"[\w./{},-]+\.(py|pyx|pxi|md|png|toml)|[\w./-]+/")
SEARCHED = ["", "src", "src/pipes_fast", "ext"]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(document: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in document.read_text().splitlines() if line.startswith("#")}


def prose(document: str) -> str:
    """The document without its code blocks."""
    return re.sub(r"^ *```.*?^ *```$", "", (ROOT / document).read_text(), flags=re.M | re.S)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_links_resolve(document: str) -> None:
    here = (ROOT / document).parent
    for target in LINK.findall(prose(document)):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (here / path) if path else ROOT / document
        assert resolved.exists(), f"{document}: link to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(resolved), f"{document}: link to {target}, no such heading"


def expand(token: str) -> list[str]:
    """``{a,b}.py`` as ``a.py`` and ``b.py``."""
    braces = re.search(r"\{([^}]*)\}", token)
    if not braces:
        return [token]
    return [name for part in braces.group(1).split(",") for name in expand(token.replace(braces.group(0), part, 1))]


def exists(name: str, document: str) -> bool:
    if "/" not in name.rstrip("/"):  # a bare file name: somewhere in the tree
        return any(".git" not in path.parts and "build" not in path.parts for path in ROOT.rglob(name.rstrip("/")))
    roots = [*SEARCHED, str(Path(document).parent)]
    return any((ROOT / root / name).exists() for root in roots)


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_paths_named_exist(document: str) -> None:
    for token in CODE.findall(prose(document)):
        if PATHLIKE.fullmatch(token) and not token.startswith(("s3:", "dir:", "file:")) and token.isascii():
            if token.split("/")[0].isupper() or "<" in token:  # a placeholder: DIR/REPORT.md
                continue
            for name in expand(token):
                assert exists(name, document), f"{document} names `{token}`, which does not exist"
