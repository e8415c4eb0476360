"""An IMAP server that refuses every LOGIN with a provider's own words: a proxy to Dovecot.

Providers refuse a right password for reasons of their own ("Your account is not enabled for
IMAP use", "Please using authorized code to login") and ParkDesk must turn their words into a
fix. Dovecot cannot say such sentences (its passwd-file reasons stop at the first space), so
this proxy on 127.0.0.1 passes everything between the client and Dovecot unchanged (greeting,
CAPABILITY, LOGOUT) except a ``LOGIN`` command, which it answers itself with ``NO <text>``.
It speaks plain IMAP only (``security: none``): it must read the commands.

    with RefusingImapProxy(("127.0.0.1", bench.imap_port), "[ALERT] ... (Failure)") as proxy:
        ...connect to 127.0.0.1:proxy.port...
"""

from __future__ import annotations

import re
import socket
import threading

LOGIN_COMMAND = re.compile(rb"^(\S+) LOGIN ", re.IGNORECASE)


class RefusingImapProxy:
    """Relays IMAP to ``target`` and answers each LOGIN with ``tag NO refusal``."""

    def __init__(self, target: tuple[str, int], refusal: str) -> None:
        self.target = target
        self.refusal = refusal
        self.refused = 0  # LOGIN commands answered so far
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)
        self._thread.start()

    def __enter__(self) -> "RefusingImapProxy":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below (Linux)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()
        self._thread.join(timeout=5)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._server_to_client, args=(upstream, client),
                             daemon=True).start()
            threading.Thread(target=self._client_to_server, args=(client, upstream),
                             daemon=True).start()

    def _server_to_client(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                with self._lock:
                    client.sendall(data)
        except OSError:
            pass
        finally:
            _close(client)

    def _client_to_server(self, client: socket.socket, upstream: socket.socket) -> None:
        reader = client.makefile("rb")
        try:
            for line in reader:
                command = LOGIN_COMMAND.match(line)
                if command is None:
                    upstream.sendall(line)
                    continue
                answer = command.group(1) + b" NO " + self.refusal.encode("utf-8") + b"\r\n"
                with self._lock:
                    self.refused += 1
                    client.sendall(answer)
        except (OSError, ValueError):
            pass
        finally:
            _close(upstream)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
