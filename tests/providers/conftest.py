"""Fixtures for provider tests: a real HTTP server on 127.0.0.1 (`tests.feed`), a URL on
which nothing listens, and a requests session that never uses a proxy.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import requests

from tests.feed import FeedServer, serve


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with serve() as feed:
        yield feed


@pytest.fixture
def refused_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        http.trust_env = False  # never route 127.0.0.1 through a proxy from the environment
        yield http
