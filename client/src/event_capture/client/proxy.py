"""Which way a request to a function goes: straight to its host, or through the http proxy the
environment names for its URL. The capture client's POSTs (``delivery.HttpTransport``) and the
features client's GETs (``deadline_http``) both go the way ``Route`` says.

| the URL | a proxy for it | TCP to | request target | proxy headers |
| --- | --- | --- | --- | --- |
| http or https | none | the host | the path | none |
| http | an http proxy | the proxy | the whole URL (the proxy forwards it) | on each request |
| https | an http proxy | the proxy, CONNECT host:port | the path (TLS end to end) | on CONNECT |
"""

import base64
import http.client
import urllib.request
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urlsplit

from event_capture.client.version import USER_AGENT


@dataclass(frozen=True, kw_only=True)
class Proxy:
    """An http:// proxy on the way to the function."""

    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization value, from credentials in its URL

    def headers(self) -> dict[str, str]:
        return {} if self.authorization is None else {"Proxy-Authorization": self.authorization}


def proxy_for(url: str) -> Proxy | None:
    """The proxy the environment names for ``url``, or None to connect directly.

    The standard library's rules (``urllib.request.getproxies`` and ``proxy_bypass``):
    HTTPS_PROXY for an https:// URL, HTTP_PROXY for http://, each in lower or upper case (lower
    wins; HTTP_PROXY is ignored under CGI, where a request can set it); NO_PROXY lists the
    hosts reached directly (``*`` for all). On macOS and Windows, with none of these set, the
    system's proxy settings.
    """
    parts = urlsplit(url)
    variable = f"{parts.scheme.upper()}_PROXY"
    configured = urllib.request.getproxies().get(parts.scheme)
    if not configured or urllib.request.proxy_bypass(_netloc(parts)):
        return None
    # A bare host:port is an http proxy, as urllib reads it.
    proxy = urlsplit(configured if "://" in configured else f"http://{configured}")
    # The URL may hold a password: errors name the variable and the rule, never the value.
    if proxy.scheme != "http":
        raise ValueError(
            f"{variable}: must be an http:// proxy URL, got {proxy.scheme}:// (TLS or "
            f"SOCKS to the proxy is not supported; https to the function is tunnelled through "
            f"an http proxy with CONNECT, so it stays encrypted end to end)"
        )
    if not proxy.hostname:
        raise ValueError(f"{variable}: the proxy URL must name a host")
    try:
        port = proxy.port or 80
    except ValueError:
        raise ValueError(f"{variable}: the proxy port must be a number") from None
    authorization = None
    if proxy.username is not None:
        credentials = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
        authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return Proxy(host=proxy.hostname, port=port, authorization=authorization)


@dataclass(frozen=True, kw_only=True)
class Route:
    """The way to a function's URL, read from the environment once (``proxy_for``)."""

    https: bool
    host: str
    port: int | None
    netloc: str  # host[:port], without any credentials
    proxy: Proxy | None

    @classmethod
    def to(cls, url: str) -> "Route":
        """The route to an http:// or https:// URL with a host (the caller has checked)."""
        parts = urlsplit(url)
        return cls(
            https=parts.scheme == "https",
            host=parts.hostname or "",
            port=parts.port,
            netloc=_netloc(parts),
            proxy=proxy_for(url),
        )

    @property
    def first_hop(self) -> tuple[str, int | None]:
        """Where the TCP connection goes."""
        if self.proxy is None:
            return self.host, self.port
        return self.proxy.host, self.proxy.port

    def target(self, path: str) -> str:
        """The request target for ``path`` on the function."""
        # Plain http through a proxy names the whole URL: the proxy forwards it.
        if self.proxy is not None and not self.https:
            return f"http://{self.netloc}{path}"
        return path

    def request_headers(self) -> dict[str, str]:
        """What every request adds: the proxy's credentials, when it reads the request."""
        if self.proxy is None or self.https:
            return {}
        return self.proxy.headers()

    def tunnel(self, connection: http.client.HTTPConnection) -> None:
        """Set up CONNECT on a connection to ``first_hop`` when https goes through the proxy:
        TCP to the proxy, CONNECT, then TLS with the function's name (http.client does the
        last two when it connects)."""
        if self.proxy is None or not self.https:
            return
        connection.set_tunnel(
            self.host,
            self.port or http.client.HTTPS_PORT,
            {"User-Agent": USER_AGENT, **self.proxy.headers()},
        )


def _netloc(parts: SplitResult) -> str:
    """host[:port] of a URL, without any credentials in it."""
    return parts.netloc.rpartition("@")[2]
