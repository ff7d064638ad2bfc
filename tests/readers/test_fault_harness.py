"""The fault harness itself (``tests/support/faults``): each fault does what it says, on the real S3 test
server and a real directory, and closing leaves no thread behind."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from support.faults import FaultProxy, FaultyDirectory
from support.faults import proxy as proxy_module
from support.faults.proxy import TRICKLE_PIECE
from support.helpers import wait_for
from support.s3_server import S3Bucket
from support.waits import RAN_OUT, Wait, recording_waits

pytestmark = [pytest.mark.timeout(60), pytest.mark.filterwarnings("ignore::DeprecationWarning")]


def proxied_client(proxy: FaultProxy) -> Any:
    """A boto3 client through ``proxy``: one attempt, short timeouts (boto3 would retry a reset away)."""
    import boto3
    from botocore.config import Config

    config = Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1})
    return boto3.client("s3", endpoint_url=proxy.url, region_name="us-east-1", config=config)


def get(client: Any, bucket: S3Bucket, key: str) -> bytes:
    data: bytes = client.get_object(Bucket=bucket.name, Key=key)["Body"].read()
    return data


def proxy_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if "proxy" in thread.name]


def test_the_proxy_forwards_on_keep_alive_and_resets_one_key(s3_bucket: S3Bucket, s3_endpoint: str) -> None:
    """Requests pass on one client connection (moto closes its own after each response); the GET of
    one key is reset once, other keys and the next GET of it pass."""
    with FaultProxy(s3_endpoint) as proxy:
        client = proxied_client(proxy)
        for index in (1, 2, 3):
            client.put_object(Bucket=s3_bucket.name, Key=f"p/{index}.json", Body=b"x" * 1000 * index)
        assert proxy.connections == 1
        rule = proxy.reset_request("GET", "/3.json")
        assert get(client, s3_bucket, "p/2.json") == b"x" * 2000
        with pytest.raises(Exception, match="Connection was closed"):
            get(client, s3_bucket, "p/3.json")
        assert get(client, s3_bucket, "p/3.json") == b"x" * 3000 and rule.fired == 1
        assert [seen.outcome for seen in proxy.seen if seen.path.endswith("3.json")] == [
            "forwarded",
            "reset",
            "forwarded",
        ]
    assert proxy_threads() == []


def test_an_outage_refuses_then_ends_a_black_hole_never_answers_slow_is_slow(
    s3_bucket: S3Bucket, s3_endpoint: str
) -> None:
    s3_bucket.put("k", b"y" * 2000)
    with recording_waits(proxy_module) as waits, FaultProxy(s3_endpoint) as proxy:
        client = proxied_client(proxy)
        proxy.outage(0.5)
        with pytest.raises(Exception, match="Connection was closed|Could not connect"):
            get(client, s3_bucket, "k")
        wait_for(lambda: proxy.mode == "forward", "the outage to end")
        assert get(client, s3_bucket, "k") == b"y" * 2000
        proxy.blackhole()
        with pytest.raises(Exception, match="Read timeout"):
            get(client, s3_bucket, "k")
        assert proxy.seen[-1].path.endswith("/k") and proxy.seen[-1].outcome == "held"  # read, never answered
        proxy.restore()
        proxy.slow(latency=0.2, bytes_per_second=5000)
        waits.mark("slow")
        forwarded = len(proxy.outcomes("forwarded"))
        assert get(client, s3_bucket, "k") == b"y" * 2000
        wait_for(lambda: len(proxy.outcomes("forwarded")) > forwarded, "the proxy to finish the response")
        slowed = waits.after("slow")
    # held back 0.2 s, then sent a piece at a time with a pause after each: every pause waited out
    pause = Wait(TRICKLE_PIECE / 5000, RAN_OUT)
    assert slowed[0] == Wait(0.2, RAN_OUT)
    assert slowed[1:] == [pause] * len(slowed[1:]) and len(slowed[1:]) > 2000 // TRICKLE_PIECE, slowed
    assert proxy_threads() == []


def test_the_directory_goes_away_and_comes_back_and_blocks_one_chunk(tmp_path: Path) -> None:
    with FaultyDirectory(tmp_path / "store") as store:
        folder = store.root / "session"
        folder.mkdir()
        store.outage(0.3, how="file")
        assert store.root.is_file() and not (folder / "1.json").parent.is_dir()
        wait_for(folder.is_dir, "the outage to end")
        store.block_chunk(folder, 2, 0.2)
        with pytest.raises(IsADirectoryError):
            (folder / "2.json").write_text("chunk 2")
        (folder / "1.json").write_text("chunk 1")
        wait_for(lambda: not (folder / "2.json").exists(), "chunk 2 to be unblocked once chunk 1 exists")
        (folder / "2.json").write_text("chunk 2")
        assert store.chunks(folder) == {1: b"chunk 1", 2: b"chunk 2"}
        store.down()
    assert folder.is_dir()  # closing puts it back
