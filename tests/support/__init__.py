"""What the tests share: helpers, fixtures and plugins, the fault-injection harness, the S3 test
server, hypothesis strategies, the harness that runs a script under both orchestrators
(``orchestrators``), and the scripts the tests run as external processes (``scripts/``)."""

from pathlib import Path

SCRIPTS = Path(__file__).parent / "scripts"
"""The scripts the tests run as external processes, by path."""
