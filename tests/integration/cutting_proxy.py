"""A TCP proxy on 127.0.0.1 that forwards to a real server and, once armed, cuts every
connection after a given number of bytes from the server and refuses new ones: "the server
went away in the middle of a read", at a point fixed by bytes, not by how fast the machine is.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class CuttingProxy:
    """Forwards ``127.0.0.1:<port>`` to ``target``. ``cut_after(n)``: the connections carry
    at most ``n`` more bytes from the server in all, then every connection is closed and new
    ones are refused until ``heal()``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._budget: int | None = None  # bytes from the server still allowed (None: any)
        self._cut = False
        self._open: list[socket.socket] = []
        self.cut_happened = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut_after(self, n: int) -> None:
        with self._lock:
            self._budget = n

    def heal(self) -> None:
        with self._lock:
            self._budget, self._cut = None, False
        self.cut_happened.clear()

    def close(self) -> None:
        self._listener.close()
        self._close_all()

    def _close_all(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
        for s in sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._cut
            if refused:
                client.close()
                continue
            server = socket.create_connection(self.target)
            with self._lock:
                self._open += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, from_server: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_server and not self._allow(len(data)):
                    self.cut_happened.set()
                    self._close_all()
                    return
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def _allow(self, n: int) -> bool:
        with self._lock:
            if self._cut:
                return False
            if self._budget is None:
                return True
            if n > self._budget:
                self._cut = True
                return False
            self._budget -= n
            return True

    def __enter__(self) -> CuttingProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
