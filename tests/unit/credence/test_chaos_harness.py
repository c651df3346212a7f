"""`credence.chaos.harness`: the ports it gives the workers and stacks it starts."""

from __future__ import annotations

import socket
from pathlib import Path

from credence.chaos.harness import free_port


def _ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_listener_ports_are_below_the_ephemeral_range_free_and_never_given_twice():
    """A port picked by binding port 0 is ephemeral: an outgoing connection could take it before
    the worker binds it (CI: a worker exited with EADDRINUSE on such a port)."""
    ports = [free_port() for _ in range(100)]
    assert len(set(ports)) == len(ports)
    assert all(p < _ephemeral_low() for p in ports)
    for p in ports[:10]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", p))
