"""Which network addresses a feed may be fetched from: public ones, unless the feed allows
private ones.

A feed URL is chosen by whoever runs ``feeds add`` and redirected by whoever serves it, so
without this check the tracker would fetch cloud metadata (169.254.169.254), admin pages on
loopback or anything else on the internal network, and report what it found. Names are judged
by the addresses they resolve to, because ``127.1``, ``2130706433``, ``0x7f000001`` and
``localhost`` are all loopback; the fetcher connects to the very address it checked, so DNS
cannot answer differently between the check and the connection.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit, urlunsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``(host, port)`` -> the addresses to try, in order (``socket.getaddrinfo`` by default).
Resolver = Callable[[str, int], Sequence[str]]

HINT = "use --allow-private to follow a feed on an internal network"

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost",
                          "ip6-loopback"})


class AddressRefused(Exception):
    """A connection to an internal address that the feed does not allow; ``str()`` says which
    host and address, the same whether anything listens there or not."""

    def __init__(self, host: str, address: str | None = None) -> None:
        self.host = host
        self.address = address
        spelt = literal(host)
        if address is None or (spelt is not None and _plain(host) == str(spelt)):
            reason = f"{host} is an internal address"
        elif spelt is not None:
            reason = f"{host} is an internal address ({address})"
        else:
            reason = f"{host} resolves to an internal address ({address})"
        super().__init__(reason)


def _plain(host: str) -> str:
    """``host`` as ``ipaddress`` writes it, when it is an address written the usual way."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host


def parse(address: str) -> IPAddress:
    """An address as ``getaddrinfo`` gives it (an IPv6 zone such as ``%eth0`` dropped)."""
    return ipaddress.ip_address(address.split("%", 1)[0])


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4, Teredo or NAT64 address leads to."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_internal(address: IPAddress) -> bool:
    """Loopback, private, link-local, CGNAT, multicast, reserved or unspecified, or an IPv6
    address standing for such an IPv4 address; IPv4-mapped and -compatible forms always."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None or address in _IPV4_COMPATIBLE:
            return True
        embedded = _embedded_ipv4(address)
        if embedded is not None and is_internal(embedded):
            return True
        if address in _NAT64:
            return False
        if address.is_site_local:
            return True
    elif address in _CGNAT:
        return True
    return (not address.is_global or address.is_private or address.is_loopback
            or address.is_link_local or address.is_multicast or address.is_reserved
            or address.is_unspecified)


def literal(host: str) -> IPAddress | None:
    """The address ``host`` spells without DNS (``127.1``, ``0x7f000001``, ``[::1]`` too),
    or None for a name."""
    text = host.strip("[]")
    if not text:
        return None
    try:
        infos = socket.getaddrinfo(text, None, type=socket.SOCK_STREAM,
                                   flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return parse(str(infos[0][4][0])) if infos else None


def is_local_name(host: str) -> bool:
    """``localhost`` and the names under it (RFC 6761), which name this machine whatever DNS
    says, or says nothing."""
    name = host.strip("[]").rstrip(".").lower()
    return name in _LOCAL_NAMES or name.endswith(".localhost")


def internal_host(host: str) -> str | None:
    """Why ``host`` is internal as written (a literal address or a localhost name), or None
    when only resolving it can tell."""
    if is_local_name(host):
        return str(AddressRefused(host))
    address = literal(host)
    if address is not None and is_internal(address):
        return str(AddressRefused(host, str(address)))
    return None


def check(host: str, addresses: Sequence[str],
          internal: Callable[[IPAddress], bool] = is_internal) -> None:
    """Raise :class:`AddressRefused` when any address ``host`` resolved to is internal."""
    for address in addresses:
        if internal(parse(address)):
            raise AddressRefused(host, address)


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the order the system prefers, without repeats."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def has_credentials(url: str) -> bool:
    return "@" in urlsplit(url).netloc


def redact(url: str) -> str:
    """``url`` without its ``user:password@``, for messages."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
