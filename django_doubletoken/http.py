"""Reading what the request brings: the bearer token, the remote address, the user agent, the
URL a DPoP proof must name.

(The remote address is the peer's IP, never called "client": that word is the client profile.)
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest
from django.utils.encoding import escape_uri_path

from . import dpop
from .conf import doubletoken_settings
from .errors import TOKEN_INVALID, TokenError

# The realm of the app's WWW-Authenticate challenges unless a face is given another.
DEFAULT_REALM = "api"

# Stored on the Django request by whoever verified its bearer token first, so that the
# middleware reuses that result instead of decoding the token again.
GRANT_ATTRIBUTE = "doubletoken_grant"
# Stored when verification failed, so that nothing retries it.
REJECTED_ATTRIBUTE = "doubletoken_rejected"


def bearer_challenge(realm: str = DEFAULT_REALM) -> str:
    """The challenge of every 401 the app answers (RFC 6750 §3), refused tokens included: the
    one place it is written. Faces pass their own realm (``www_authenticate_realm``)."""
    return f'Bearer realm="{realm}"'


def challenge_scheme(request: HttpRequest, realm: str = DEFAULT_REALM) -> str:
    """The bare challenge of a 401 to ``request``: ``bearer_challenge``, or the DPoP one
    (RFC 9449 §7.1) when the request sent its token with the DPoP scheme."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header[:5].lower() == "dpop " and dpop.enabled():
        return dpop.challenge_scheme()
    return bearer_challenge(realm)


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header.

    None when there is no header or another scheme is used (other authenticators may take
    it); ``TokenError`` when the header says Bearer but carries no usable token.
    """
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    return _usable(token) if scheme.lower() == "bearer" else None


def access_token(request: HttpRequest) -> tuple[str, bool] | None:
    """The access token of ``Authorization: Bearer <token>`` or, where a profile has DPoP on,
    ``Authorization: DPoP <token>`` (RFC 9449 §7.1), and whether it came with the DPoP
    scheme. None and ``TokenError`` as for ``bearer_token``."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    scheme = scheme.lower()
    if scheme != "bearer" and (scheme != "dpop" or not dpop.enabled()):
        return None
    return _usable(token), scheme == "dpop"


def _usable(token: str) -> str:
    token = token.strip()
    if (
        not token
        or " " in token
        or len(token) > doubletoken_settings.MAX_TOKEN_LENGTH
        or not token.isascii()
        or not token.isprintable()
    ):
        raise TokenError(TOKEN_INVALID)
    return token


def proof_request(request: HttpRequest, *, always: bool = False) -> dpop.ProofRequest | None:
    """The request's DPoP proof with what it must name (method, URL): what the core checks.
    None when it has no ``DPoP`` header, unless ``always`` (a DPoP-scheme request, whose
    missing proof is an error to report)."""
    values = request.META.get("HTTP_DPOP")
    if values is None and not always:
        return None
    return dpop.ProofRequest(values, request.method or "", request_uri(request))


def remote_ip(request: HttpRequest) -> str | None:
    """The remote IP, for the device list and the login throttle: the connection's peer, or
    behind a proxy the last address of ``CLIENT_IP_HEADER``, the one the nearest (trusted)
    proxy added; earlier ones are the sender's to forge. None when it is not an address."""
    header = doubletoken_settings.CLIENT_IP_HEADER
    raw = request.META.get(header, "") if header else ""
    raw = raw.split(",")[-1].strip() or request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(_address_part(raw)))
    except ValueError:
        return None


def _address_part(entry: str) -> str:
    """The address in one proxy-header entry: ``192.0.2.1``, ``192.0.2.1:4711``,
    ``[2001:db8::1]:4711``, or RFC 7239's ``for="[2001:db8::1]:4711";proto=https``."""
    if "=" in entry:
        params = (pair.partition("=") for pair in entry.split(";"))
        entry = next((value for name, _, value in params if name.strip().lower() == "for"), "")
        entry = entry.strip().strip('"')
    if entry.startswith("["):
        return entry[1:].partition("]")[0]
    if entry.count(":") == 1:
        return entry.partition(":")[0]
    return entry


def user_agent(request: HttpRequest) -> str:
    return request.META.get("HTTP_USER_AGENT", "")[:512]


def request_uri(request: HttpRequest) -> str:
    """The request's URL without query, as the client addressed it: what a DPoP proof's
    ``htu`` must name. Scheme and host as Django sees them behind a proxy
    (``SECURE_PROXY_SSL_HEADER``, ``USE_X_FORWARDED_HOST``); the path percent-encoded, so
    that a ``?`` or ``#`` it holds (sent as ``%3F``, ``%23``) stays part of it."""
    return f"{request.scheme}://{request.get_host()}{escape_uri_path(request.path)}"
