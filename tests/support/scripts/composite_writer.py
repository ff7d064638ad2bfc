"""One writer of several in a Pipes session (a composite reader's), written against dagster-pipes.

Usage: composite_writer.py NAME KIND COUNT — KIND is ``file`` or ``stdio`` (dagster-pipes' default
writer, which follows the params) or ``directory`` (its Unity Catalog volumes chunk writer). The
script logs, reports COUNT custom messages ``{"writer": NAME, "i": i}`` in order, a check and a
materialization of the asset called NAME (with ``NAME.fail`` as NAME it closes with an exception
after its messages instead).
"""

import sys

from dagster_pipes import PipesDefaultMessageWriter, PipesUnityCatalogVolumesMessageWriter, open_dagster_pipes

name, kind, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
writer = PipesUnityCatalogVolumesMessageWriter(interval=0.05) if kind == "directory" else PipesDefaultMessageWriter()

with open_dagster_pipes(message_writer=writer) as pipes:
    asset = name.removesuffix(".fail")
    pipes.log.info(f"writer {asset} ({kind}) starting")
    print(f"ordinary output of {asset}", flush=True)
    for i in range(count):
        pipes.report_custom_message({"writer": asset, "i": i})
    if asset != name:
        raise ValueError(f"writer {asset} failed")
    pipes.report_asset_check(asset_key=asset, check_name="rows", passed=True, metadata={"writer": asset})
    pipes.report_asset_materialization(asset_key=asset, metadata={"writer": asset, "count": count}, data_version=kind)
