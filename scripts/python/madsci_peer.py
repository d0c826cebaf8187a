"""Helpers for Python snippets run by scripts/lib/python-peer.mjs (runPythonClient).

The snippet runs with the peer venv's interpreter, in a temporary working directory that
holds its own ``.madsci/`` (so EventClient log files stay out of the repository), with this
directory on ``PYTHONPATH``. Typical use::

    from madsci_peer import event_client, read_input, wait_for_sends, output

    params = read_input()              # the `input` given to runPythonClient, or None
    client = event_client()            # EventClient pointed at the `serverUrl` given
    client.info("hello", step=1)       # sent from a new (non-daemon) thread
    wait_for_sends()                   # join those threads before reading back
    output({"events": client.get_events(number=5)})   # the JSON that runPythonClient returns
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any


def server_url() -> str:
    """The Event Manager URL given to runPythonClient as ``serverUrl``."""
    url = os.environ.get("MADSCI_PEER_SERVER_URL")
    if not url:
        raise RuntimeError(
            "MADSCI_PEER_SERVER_URL is not set: pass serverUrl to runPythonClient"
        )
    return url


def read_input() -> Any:
    """The JSON value given to runPythonClient as ``input`` (read from stdin), or None."""
    data = sys.stdin.read()
    return json.loads(data) if data.strip() else None


def event_client(**kwargs: Any) -> Any:
    """An EventClient for the peer server; keyword arguments go to EventClient(...)."""
    from madsci.client.event_client import EventClient  # noqa: PLC0415

    kwargs.setdefault("name", "madsci_peer")
    if "config" not in kwargs:
        kwargs.setdefault("event_server_url", server_url())
    return EventClient(**kwargs)


def wait_for_sends(timeout: float = 30.0) -> None:
    """Join every other non-daemon thread: EventClient sends each event on its own thread."""
    current = threading.current_thread()
    for thread in threading.enumerate():
        if thread is not current and not thread.daemon:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"thread {thread.name} still running after {timeout}s")


def to_jsonable(value: Any) -> Any:
    """pydantic models (Event, ...) become their JSON form; containers are walked."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_jsonable(v) for v in value]
    return value


def output(value: Any) -> None:
    """Print ``value`` as one JSON line on stdout (runPythonClient parses it)."""
    sys.stdout.write(json.dumps(to_jsonable(value), default=str) + "\n")
    sys.stdout.flush()
