"""``DAGSTER_PIPES_CLI_PARSER``: dagster-pipes' argparse parser of the two bootstrap flags, for
scripts that parse them themselves (:class:`~pipes_fast.external.PipesCliArgsParamsLoader` reads
them without argparse)."""

from __future__ import annotations

import argparse

from pipes_fast._logic import wire as _wire

DAGSTER_PIPES_CLI_PARSER = argparse.ArgumentParser(description="Dagster Pipes CLI interface")
for _flag, _param in (
    (_wire.DAGSTER_PIPES_CONTEXT_CLI_ARG, "context"),
    (_wire.DAGSTER_PIPES_MESSAGES_CLI_ARG, "messages"),
):
    DAGSTER_PIPES_CLI_PARSER.add_argument(
        _flag, type=str, help=f"The Pipes {_param} params: JSON, zlib-compressed, base64-encoded"
    )
