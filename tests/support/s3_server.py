"""The S3 test server: moto's server mode in a subprocess on 127.0.0.1, started once per test
session, and real boto3 clients talking to it over HTTP.

While the server runs, the environment holds dummy credentials, the region and the endpoint
(``AWS_ENDPOINT_URL_S3``), and points boto3's config files at nothing, so neither the tests nor the
external processes they start read ``~/.aws`` or reach AWS: a script's plain ``boto3.client("s3")``
talks to this server. Outside pytest (the benchmarks), :func:`s3_server`, :func:`s3_client` and
:func:`new_bucket` do what the fixtures do.
"""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 30.0
START_ATTEMPTS = 3  # the free port found can be taken by someone else before the server binds it


@dataclass(frozen=True)
class S3Bucket:
    """A fresh bucket on the test server, and a client for it."""

    client: Any
    name: str

    def put(self, key: str, body: bytes | str) -> None:
        self.client.put_object(Bucket=self.name, Key=key, Body=body)

    def keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=self.name)
        return sorted(item["Key"] for item in listing.get("Contents", ()))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=1)
    try:
        connection.request("GET", "/")
        connection.getresponse().read()
        return True
    except OSError:
        return False
    finally:
        connection.close()


class S3ServerError(RuntimeError):
    """The server did not start."""


def _start(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The server process and its endpoint, once it answers (within ``START_TIMEOUT_SECONDS`` in
    all); :class:`S3ServerError` otherwise."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        with log.open("ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)], stdout=out, stderr=out
            )
        while process.poll() is None and time.monotonic() < deadline:
            if _answers(port):
                return process, f"http://{HOST}:{port}"
            time.sleep(0.05)
        _stop(process)
    raise S3ServerError(f"the moto S3 server did not start; its output:\n{log.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def s3_server(folder: Path) -> Iterator[str]:
    """Run a server (its log in ``folder``) and yield its URL; the environment points boto3 at it meanwhile."""
    process, endpoint = _start(folder / "server.log")
    try:
        with pytest.MonkeyPatch.context() as env:
            for name, value in {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "AWS_ENDPOINT_URL_S3": endpoint,
                "AWS_CONFIG_FILE": str(folder / "no-config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(folder / "no-credentials"),
                "AWS_EC2_METADATA_DISABLED": "true",
                "NO_PROXY": HOST,
                "no_proxy": HOST,
            }.items():
                env.setenv(name, value)
            env.delenv("AWS_SESSION_TOKEN", raising=False)
            env.delenv("AWS_PROFILE", raising=False)
            yield endpoint
    finally:
        _stop(process)


def s3_client(endpoint: str) -> Any:
    """A boto3 S3 client of the server at ``endpoint``."""
    import boto3

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def new_bucket(client: Any) -> S3Bucket:
    """A fresh, empty bucket on ``client``'s server."""
    name = f"pipes-fast-{uuid.uuid4().hex[:16]}"
    client.create_bucket(Bucket=name)
    return S3Bucket(client, name)


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of the session's S3 server; the environment points boto3 at it meanwhile."""
    with ExitStack() as stack:
        try:
            endpoint = stack.enter_context(s3_server(tmp_path_factory.mktemp("s3-server")))
        except S3ServerError as error:
            pytest.fail(str(error))
        yield endpoint


@pytest.fixture(scope="session", name="s3_client")
def s3_client_fixture(s3_endpoint: str) -> Any:
    """A boto3 S3 client of the test server."""
    return s3_client(s3_endpoint)


@pytest.fixture
def s3_bucket(s3_client: Any) -> S3Bucket:
    """A fresh, empty bucket for one test."""
    return new_bucket(s3_client)
