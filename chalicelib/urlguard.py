"""Outbound URL safety: which URLs the service lets Evolution fetch, or delivers events to.

A URL given by a client is fetched by someone else on our behalf (Evolution downloads a media
``url``; the event worker POSTs to a destination). Left unchecked, that is server-side request
forgery by proxy: ``http://169.254.169.254/`` (the cloud metadata service), ``http://127.0.0.1``,
or a private address inside the company's network. One policy object says what is allowed:

- the scheme (``https`` always; ``http`` when the policy allows it, or to loopback in dev);
- loopback, private, link-local and other non-public addresses are refused unless the policy
  allows that kind, or the host or its address is on the allowlist (names, IP addresses or
  CIDR networks, e.g. ``files.intranet.example,10.20.0.0/16``);
- a host name is resolved and every address it resolves to must pass; a name that does not
  resolve at all passes this check (the fetcher reports it: no request can reach it).

Checks run when the URL is accepted and again just before it is used (DNS can change).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], Sequence[str]]


class UnsafeURLError(ValueError):
    """The URL may not be fetched under the policy; ``reason`` is one sentence for the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Allowlist:
    """Hosts and networks allowed although they are not public (from a comma-separated setting)."""

    names: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str] | str | None) -> Allowlist:
        """``"files.example,10.0.0.0/8, 192.168.1.10"`` → an allowlist; ValueError on a bad entry."""
        if entries is None:
            return cls()
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        names: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in items:
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if not _is_host_name(entry):
                raise ValueError(f"{raw.strip()!r} is neither a host name nor an IP network")
            names.add(entry)
        return cls(frozenset(names), tuple(networks))

    def allows_name(self, host: str) -> bool:
        return host in self.names

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True)
class URLPolicy:
    """What an outbound URL may point at."""

    allow_http: bool = True  # plain http to public hosts
    allow_loopback: bool = False  # 127.0.0.0/8, ::1, localhost
    allow_private: bool = False  # private, link-local, shared, reserved ranges
    loopback_http_only: bool = False  # http is allowed to loopback hosts even when allow_http is off
    allowlist: Allowlist = field(default_factory=Allowlist)
    max_length: int = 2048


def _default_resolver(host: str) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    return sorted({str(info[4][0]) for info in infos})


def _is_host_name(value: str) -> bool:
    labels = value.split(".")
    return 0 < len(value) <= 253 and all(
        0 < len(label) <= 63
        and label[0] != "-"
        and label[-1] != "-"
        and all(c.isascii() and (c.isalnum() or c == "-") for c in label)
        for label in labels
    )


def _address(value: str) -> IPAddress | None:
    """The IP address a host literal means, as a browser or Node would read it: also the
    shorthand IPv4 forms (``2130706433``, ``0x7f.1``, ``127.1``) that ``inet_aton`` accepts."""
    try:
        address: IPAddress = ipaddress.ip_address(value.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        if ":" in value or not value.replace(".", "").isalnum():
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(value))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or address.sixtofour
        if mapped is not None:
            return mapped
    return address


def classify(address: IPAddress) -> str:
    """``public``, ``loopback`` or ``private`` (every other non-public kind counts as private)."""
    if address.is_loopback:
        return "loopback"
    if address.is_global and not address.is_multicast:
        return "public"
    return "private"


def _scheme_and_host(url: str, policy: URLPolicy) -> tuple[str, str]:
    if len(url) > policy.max_length:
        raise UnsafeURLError(f"the URL is longer than {policy.max_length} characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower().rstrip(".")
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise UnsafeURLError("the URL is not valid") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURLError("the URL must use https (or http)")
    if not host:
        raise UnsafeURLError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURLError("the URL must not carry a user name or password")
    return scheme, host


def _addresses(host: str, resolve: Resolver | None) -> list[IPAddress]:
    literal = _address(host)
    if literal is not None:
        return [literal]
    if not _is_host_name(host):
        raise UnsafeURLError("the URL's host is not a valid host name")
    if host == "localhost" or host.endswith(".localhost"):
        return [ipaddress.IPv4Address("127.0.0.1")]
    resolved = (resolve or _default_resolver)(host)
    return [a for a in (_address(r) for r in resolved) if a is not None]


def check_url(url: str, policy: URLPolicy, *, resolve: Resolver | None = None) -> str:
    """Return ``url`` when ``policy`` lets the service (or Evolution) fetch it; else raise
    :class:`UnsafeURLError` saying why."""
    scheme, host = _scheme_and_host(url, policy)
    if _address(host) is None and _is_host_name(host) and policy.allowlist.allows_name(host):
        return url
    addresses = _addresses(host, resolve)
    kinds = {classify(a) for a in addresses if not policy.allowlist.allows_address(a)}
    if "loopback" in kinds and not policy.allow_loopback:
        raise UnsafeURLError("the URL points at this machine (a loopback address)")
    if "private" in kinds and not policy.allow_private:
        raise UnsafeURLError(
            "the URL points at a private, link-local or reserved address; "
            "ask the operator to allowlist the host if it is really needed"
        )
    if scheme == "http" and not policy.allow_http:
        to_loopback = bool(addresses) and all(classify(a) == "loopback" for a in addresses)
        if not (policy.loopback_http_only and to_loopback):
            raise UnsafeURLError("the URL must use https")
    return url
