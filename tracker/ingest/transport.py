"""The HTTP transport every outgoing request of the tracker goes through (feeds and webhooks).

httpx alone cannot give the two guarantees a fetch needs. Its read timeout is per read, so a
server trickling a byte every few seconds never trips it: here every socket read and write is
also bounded by an overall deadline (:func:`overall_deadline`). And it resolves names inside
``socket.create_connection``, after any check could have looked: here the transport resolves
each host itself, lets the network policy (:mod:`tracker.ingest.netpolicy`) judge the
addresses, and connects only to an address the policy allowed, so DNS cannot answer
differently between the check and the connection. Requests that may reach internal addresses
use a pool of their own.
"""

from __future__ import annotations

import contextlib
import functools
import ssl
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import httpcore
import httpx

from tracker.ingest import netpolicy

USER_AGENT = "tracker/0.1 (+policy tracker)"
#: The request extension that picks the connection pool allowing internal addresses.
ALLOW_PRIVATE = "tracker.allow_private"

Internal = Callable[[netpolicy.IPAddress], bool]


# -- deadline ---------------------------------------------------------------------------------

_deadline = threading.local()


@contextlib.contextmanager
def overall_deadline(at: float) -> Iterator[None]:
    """Bound every socket operation of this thread by ``at`` (``time.monotonic()``)."""
    _deadline.at = at
    try:
        yield
    finally:
        _deadline.at = None


def _clamp(timeout: float | None, exc: type[Exception]) -> float | None:
    """Shorten a socket timeout to what is left of the current fetch's overall deadline."""
    at: float | None = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    remaining = at - time.monotonic()
    if remaining <= 0:
        raise exc("overall deadline passed")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write is bounded by the overall deadline.

    httpx's read timeout is per read, so a server sending a byte every few seconds (in the
    headers as well as the body) would never trip it.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _clamp(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


# -- network policy ---------------------------------------------------------------------------


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves each host itself, refuses internal addresses (unless ``allow_private``) and
    connects to the address it checked; httpcore keeps the hostname for TLS SNI and Host.

    Resolving here rather than in ``socket.create_connection`` closes the gap DNS rebinding
    uses: the address checked is the address connected to.
    """

    def __init__(self, allow_private: bool, resolver: netpolicy.Resolver,
                 internal: Internal) -> None:
        self._inner = httpcore.SyncBackend()
        self._allow_private = allow_private
        self._resolver = resolver
        self._internal = internal

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        if not self._allow_private and netpolicy.is_local_name(host):
            raise netpolicy.AddressRefused(host)
        try:
            addresses = list(self._resolver(host, port))
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(str(exc)) from None
        if not self._allow_private:
            netpolicy.check(host, addresses, self._internal)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address, port, _clamp(timeout, httpcore.ConnectTimeout), local_address,
                    socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            return _DeadlineStream(stream)
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Iterable[Any] | None = None,
                            ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """The verifying TLS context every pool of the process shares: loading the CA bundle
    costs about 10 ms, and it was paid twice for every client (twice per feed before a pass
    shared one client)."""
    return httpx.create_ssl_context()


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets honour the deadline and the
    network policy."""

    def __init__(self, allow_private: bool, resolver: netpolicy.Resolver,
                 internal: Internal) -> None:
        context = _ssl_context()
        super().__init__(verify=context, retries=0)  # its own pool is replaced below
        self._pool = httpcore.ConnectionPool(
            ssl_context=context, max_connections=10,
            max_keepalive_connections=5, keepalive_expiry=5.0,
            network_backend=_GuardedBackend(allow_private, resolver, internal))


class _PolicyTransport(httpx.BaseTransport):
    """Two pools, so a kept-alive connection to an internal host opened for a feed that
    allows it is never reused for one that does not."""

    def __init__(self, resolver: netpolicy.Resolver, internal: Internal) -> None:
        self._public = _DeadlineTransport(False, resolver, internal)
        self._private = _DeadlineTransport(True, resolver, internal)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pool = self._private if request.extensions.get(ALLOW_PRIVATE) else self._public
        return pool.handle_request(request)

    def close(self) -> None:
        self._public.close()
        self._private.close()


# -- client -----------------------------------------------------------------------------------


def make_client(resolver: netpolicy.Resolver | None = None,
                internal: Internal = netpolicy.is_internal) -> httpx.Client:
    """A client to reuse across requests (:func:`send` them); timeouts are set per request.

    ``resolver`` stands in for DNS and ``internal`` for the policy's verdict on an address:
    tests give names the loopback address, or let the loopback server pass for a public host
    so that what comes after it (a redirect) meets the policy.
    """
    transport = _PolicyTransport(resolver or netpolicy.system_resolver, internal)
    return httpx.Client(transport=transport, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT})


def send(client: httpx.Client, method: str, url: str, *,
         headers: Mapping[str, str] | Sequence[tuple[bytes, bytes]],
         timeout: tuple[float, float], allow_private: bool,
         content: bytes | None = None) -> httpx.Response:
    """One request, redirects not followed, within ``timeout`` = (connect, read) seconds per
    operation; internal addresses only with ``allow_private`` (``client`` must come from
    :func:`make_client` for that to hold, and for the User-Agent it sends). The response is
    streamed: close it.

    Raises what ``httpx`` raises, and :class:`netpolicy.AddressRefused`.
    """
    connect, read = timeout
    request = client.build_request(
        method, url, content=content, headers=headers,
        timeout=httpx.Timeout(connect=connect, read=read, write=read, pool=connect),
        extensions={ALLOW_PRIVATE: allow_private})
    return client.send(request, stream=True, follow_redirects=False)
