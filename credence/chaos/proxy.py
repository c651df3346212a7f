"""A TCP proxy that can be cut and restored: "Kafka or Redis unreachable" without touching them.

Pure stdlib asyncio, on a thread of its own so the synchronous fault scenarios can drive it.
``cut()`` closes every open connection and stops listening, so a client sees its connections
reset and new ones refused (what a dead host or a partitioned network looks like after the
TCP timeouts); ``restore()`` listens again. The proxied service itself never notices.

For Kafka the client must reconnect through the proxy too, not to the address the broker
advertises: the local stack's broker has a second listener that advertises the proxy's port
(`credence.stack.proxied_ports`), so a client bootstrapped through the proxy stays behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from types import TracebackType

__all__ = ["Proxy"]


class Proxy:
    """Forwards ``listen_host:listen_port`` to ``target_host:target_port`` until cut."""

    def __init__(self, listen_port: int, target_port: int, target_host: str = "127.0.0.1",
                 listen_host: str = "127.0.0.1") -> None:
        self.listen = (listen_host, listen_port)
        self.target = (target_host, target_port)
        self.connections = 0  # accepted since start, for the figures and the tests
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name=f"proxy-{listen_port}")
        self._server: asyncio.Server | None = None
        self._open: set[asyncio.StreamWriter] = set()

    # ------------------------------------------------------------------ control (any thread)

    def start(self) -> Proxy:
        self._thread.start()
        self.restore()
        return self

    def cut(self) -> None:
        """Reset every connection and refuse new ones."""
        self._call(self._cut())

    def restore(self) -> None:
        """Accept connections again (idempotent)."""
        self._call(self._listen())

    @property
    def is_cut(self) -> bool:
        return self._server is None

    def stop(self) -> None:
        if self._thread.is_alive():
            self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def __enter__(self) -> Proxy:
        return self.start()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _call(self, coro: object) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the loop's side

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(self._accept, *self.listen,
                                                      reuse_address=True)

    async def _cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for w in list(self._open):
            with contextlib.suppress(Exception):
                # An abort sends RST: the client learns at once, as from a dead peer's host.
                w.transport.abort()
        self._open.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._server is None:  # accepted in the instant of a cut
            writer.transport.abort()
            return
        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.connections += 1
        self._open.update((writer, up_w))
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))
        self._open.discard(writer)
        self._open.discard(up_w)

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                dst.close()  # one side gone: end the other (these protocols never half-close)
