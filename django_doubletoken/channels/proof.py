"""A socket's DPoP proof (RFC 9449): where it travels and the URL it must name.

A browser cannot set a ``DPoP`` header on a WebSocket, so the proof travels the way the token
does: as the subprotocol element after the ``doubletoken.dpop`` marker
(``new WebSocket(url, ["doubletoken", access, "doubletoken.dpop", proof, ...yours])``), or as
the ``dpop`` member of a ``doubletoken.authenticate`` message beside its token. Either way it
names ``htm`` "GET" and ``htu`` the socket's URL (``ws``/``wss``, host, path; no query) as
Django sees it behind a proxy, and is checked by the core exactly as an HTTP request's proof
is (``services.aauthenticate_access(proof=...)``): a proof present here is what the ``DPoP``
scheme is on HTTP.
"""

from __future__ import annotations

import io

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest

from .. import dpop, http
from ..dpop.errors import refuse
from .wire import Scope

DPOP_MARKER = "doubletoken.dpop"
# What the proof of a socket names as its method: the handshake is an HTTP GET (RFC 6455).
METHOD = "GET"


def proof_from_subprotocols(scope: Scope) -> str | None:
    """The proof offered after the ``doubletoken.dpop`` marker ("" when the marker has no
    element after it), None without the marker. Both are taken out of
    ``scope["subprotocols"]``: the application never sees the proof."""
    protocols = list(scope.get("subprotocols") or [])
    if DPOP_MARKER not in protocols:
        return None
    index = protocols.index(DPOP_MARKER)
    proof = protocols[index + 1] if index + 1 < len(protocols) else ""
    scope["subprotocols"] = protocols[:index] + protocols[index + 2 :]
    return proof if isinstance(proof, str) else ""


def socket_uri(scope: Scope) -> str:
    """The socket's URL without query, as the client addressed it: ``http.request_uri`` of
    the handshake (so ``SECURE_PROXY_SSL_HEADER`` and ``USE_X_FORWARDED_HOST`` apply as on
    HTTP), with the WebSocket scheme. ``DisallowedHost`` for a host Django refuses."""
    secure = scope.get("scheme") == "wss"
    # The query is no part of it (and ASGIRequest would decode its raw bytes as UTF-8).
    request = ASGIRequest({**scope, "type": "http", "method": METHOD, "query_string": b"",
                           "scheme": "https" if secure else "http"}, io.BytesIO())
    uri = http.request_uri(request)
    return "wss" + uri.removeprefix("https") if uri.startswith("https:") \
        else "ws" + uri.removeprefix("http")


def proof_request(scope: Scope, proof: str | None) -> dpop.ProofRequest | None:
    """What the core checks the proof against; None when the socket sent none (a bound token
    is then refused, as one sent with the ``Bearer`` scheme is)."""
    if proof is None:
        return None
    try:
        uri = socket_uri(scope)
    except DisallowedHost:
        # Refused as the HTTP face refuses it (400): no URL of this server to name.
        raise refuse("the socket's host is not allowed") from None
    return dpop.ProofRequest(proof, METHOD, uri)
