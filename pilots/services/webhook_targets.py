"""Where a webhook may be sent: public addresses only, unless a network is opted in.

A subscription names a URL; the worker POSTs there from inside the service's network. So the host is
resolved and every address it resolves to is checked — loopback, link-local (the cloud metadata service
at 169.254.169.254), private, unspecified, multicast and reserved addresses are refused, in IPv4, IPv6
and IPv4-mapped IPv6 — at subscribe time and again at send time, because DNS can change in between.
The sender then connects to the very addresses it checked (``Target.connect``), so a second lookup
cannot swap in another. ``getaddrinfo`` also reads the spellings a URL parser does not (``0x7f.1``,
``2130706433``), so those are checked as the addresses they are.

``WEBHOOK_ALLOWED_NETWORKS`` (CIDRs) opts networks in: a government intranet receiver, a local test
receiver.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(Exception):
    """The URL may not receive webhooks. ``code`` names the rule (``loopback_address`` …)."""

    def __init__(self, message: str, *, code: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as the URL names it: sent as Host and, for HTTPS, as the TLS server name
    port: int
    addresses: tuple[str, ...]  # every address the host resolved to, each checked: tried in this order
    path: str  # path and query, as sent in the request line

    def connect(self, timeout: float) -> socket.socket:
        """A connection to the first checked address that answers (as ``socket.create_connection`` tries
        a name's addresses in turn), never to a name resolved again."""
        error: OSError | None = None
        for address in self.addresses:
            try:
                return socket.create_connection((address, self.port), timeout)
            except OSError as exc:
                error = exc
        raise error or OSError(f"no address for {self.host}")


def allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    networks = []
    for value in settings.WEBHOOK_ALLOWED_NETWORKS:
        try:
            networks.append(ipaddress.ip_network(value, strict=False))
        except ValueError:
            raise ImproperlyConfigured(f"WEBHOOK_ALLOWED_NETWORKS: {value!r} is not a network (CIDR)") from None
    return networks


def _rule(address: IPAddress) -> tuple[str, str] | None:
    """The (code, description) of the rule that refuses ``address``, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        ("unspecified_address", address.is_unspecified, _("an unspecified address")),
        ("loopback_address", address.is_loopback, _("a loopback address")),
        ("link_local_address", address.is_link_local, _("a link-local address")),
        ("multicast_address", address.is_multicast, _("a multicast address")),
        ("reserved_address", address.is_reserved, _("a reserved address")),  # before private: 240/4 is both
        ("private_address", address.is_private, _("a private address")),
        ("reserved_address", not address.is_global, _("a reserved address")),  # shared (100.64/10), documentation…
    )
    for code, applies, description in checks:
        if applies:
            return code, description
    return None


def check_address(address: IPAddress, host: str) -> None:
    """Raise ``TargetRefused`` unless ``address`` is public or in an allowed network."""
    rule = _rule(address)
    if rule is None:
        return
    plain = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped else address
    if any(plain in network or address in network for network in allowed_networks()):
        return
    code, description = rule
    raise TargetRefused(_(
        "Webhooks are not sent to %(kind)s: %(host)s resolves to %(address)s. Use a public address, or have the "
        "operator allow its network in WEBHOOK_ALLOWED_NETWORKS.") % {
        "kind": description, "host": host, "address": address}, code=code)


def resolve_target(url: str) -> Target:
    """The URL's host resolved and every address it resolves to checked."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise TargetRefused(_("A webhook URL must start with http:// or https://."), code="scheme")
    host = parts.hostname
    if not host:
        raise TargetRefused(_("A webhook URL needs a host."), code="host")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
    except ValueError:
        raise TargetRefused(_("The port of the webhook URL is not a number from 0 to 65535."), code="port") from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        raise TargetRefused(_("The host %(host)s of the webhook URL cannot be resolved.") % {"host": host},
                            code="unresolvable_host") from None
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone (fe80::1%eth0)
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise TargetRefused(_("The host %(host)s of the webhook URL cannot be resolved.") % {"host": host},
                            code="unresolvable_host")
    for address in addresses:  # every one: a name with one public and one private address is refused
        check_address(address, host)
    # The request line is ASCII: a path or query typed in Chinese is sent percent-encoded, as a browser would.
    path = urllib.parse.quote(parts.path or "/", safe="/%:@!$&'()*+,;=~")
    if parts.query:
        path = f"{path}?{urllib.parse.quote(parts.query, safe='/%:@!$&()*+,;=~?')}"
    return Target(scheme=scheme, host=host, port=port, addresses=tuple(str(a) for a in addresses), path=path)
