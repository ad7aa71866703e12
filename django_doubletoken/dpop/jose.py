"""JOSE pieces a DPoP proof needs: base64url, strict JSON objects, the ``ath`` hash, the RFC
7638 thumbprint of a JWK, and the RFC 3986 normal form of the ``htu`` URI."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, unquote_to_bytes, urlsplit

from ..keys import thumbprint

DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# RFC 3986 §2.3 unreserved characters, and what a path may hold unencoded besides them.
PATH_SAFE = "-._~" + "!$&'()*+,;=" + ":@/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(segment: str) -> bytes:
    if "=" in segment or "+" in segment or "/" in segment:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A member given twice is read differently by different parsers (first or last wins):
    # refused, so that what is verified is what every reader sees.
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate member")
    return found


def json_object(segment: str) -> dict[str, Any]:
    value = json.loads(b64decode(segment), object_pairs_hook=unique_members)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"): encoded anyway, never a 500.
    return text.encode("utf-8", "surrogatepass")


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(utf8(token)).digest())


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a JWK (EC, OKP or RSA); ``ValueError`` if it lacks a
    required member or one is not a string."""
    kty = jwk.get("kty")
    members = {"EC": ("crv", "x", "y"), "OKP": ("crv", "x"), "RSA": ("e", "n")}.get(kty)
    if members is None:
        raise ValueError(f"unsupported key type {kty!r}")
    if not all(isinstance(jwk.get(name), str) and jwk[name] for name in members):
        raise ValueError(f"{kty} key without {', '.join(members)}")
    return thumbprint(dict(jwk))


def normalize_uri(uri: str) -> str:
    """``uri`` after RFC 3986 §6.2.2-6.2.3 normalisation, without query and fragment:
    scheme and host in lower case, the default port dropped, an empty path made "/", and the
    path's percent-encoding made canonical.

    The path is compared decoded (then encoded one way): Django routes the decoded path, so
    ``/a%2Fb`` and ``/a/b`` reach the same view and are the same resource here. Dot segments
    are kept, since Django does not resolve them either: a proof for ``/b`` is not one for
    ``/a/../b``. ``ValueError`` when it is not an absolute http(s) or ws(s) URI.
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or "@" in parts.netloc:
        raise ValueError("not an absolute http(s) or ws(s) URI without user info")
    host = parts.hostname  # urlsplit lower-cases it
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port  # ValueError for a port out of range
    authority = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = quote(unquote_to_bytes(parts.path), safe=PATH_SAFE) or "/"
    return f"{scheme}://{authority}{path}"
