"""DPoP (RFC 9449): proof that the client holds the private key its tokens are bound to.

A client signs a short JWT (the *proof*) for each request with a key pair it never reveals;
the proof's header carries the public key, its claims the request's method (``htm``) and URL
(``htu``), when it was made (``iat``), a unique ``jti`` and, with an access token, the token's
hash (``ath``). A session bound at login to the key's RFC 7638 thumbprint (``cnf.jkt``) is then
useless to whoever steals its tokens without the key.

This module is core: it sees the request as plain strings (method, URL, header values) that
the face hands down (``http.request_uri``), raises ``ProofError`` with a core code, and
touches the cache only through the replay store below. The order of the checks matters:
``check_proof`` writes nothing, and the replay record is added only after every other check
passed, so garbage proofs cannot fill the store.

The replay record's single write is a ``SET NX``. A face that reads the session state in a
pipeline queues it there (``queue_replay`` then ``replay_accepted``), so a DPoP request keeps
its one cache round trip; ``record_replay`` / ``arecord_replay`` write it on their own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote, unquote_to_bytes, urlsplit

import jwt
from django.conf import settings

from . import store
from .conf import derived_from_settings, doubletoken_settings
from .errors import ERROR_CODES, INVALID_DPOP_PROOF, USE_DPOP_NONCE, TokenError
from .keys import thumbprint

OFF, OPTIONAL, REQUIRED = "off", "optional", "required"
MODES = (OFF, OPTIONAL, REQUIRED)

PROOF_TYPE = "dpop+jwt"
# An RSA-4096 proof is about 2.4 KB; anything longer is refused before it is decoded.
MAX_PROOF_LENGTH = 4096
MAX_JTI_LENGTH = 256
MIN_RSA_BITS = 2048
# Imported public keys kept per process, by thumbprint (one per active device).
KEY_CACHE_SIZE = 4096

# The asymmetric algorithms a proof may use, with the key type (and curves) each needs.
# HMAC and "none" are absent on purpose: a proof must be verifiable from its own header.
ALGORITHM_KEYS: dict[str, tuple[str, frozenset[str]]] = {
    "ES256": ("EC", frozenset({"P-256"})),
    "ES384": ("EC", frozenset({"P-384"})),
    "ES512": ("EC", frozenset({"P-521"})),
    "EdDSA": ("OKP", frozenset({"Ed25519", "Ed448"})),
    # RFC 9864's fully-specified names for EdDSA (what WebCrypto-based clients now send).
    "Ed25519": ("OKP", frozenset({"Ed25519"})),
    "Ed448": ("OKP", frozenset({"Ed448"})),
    **{name: ("RSA", frozenset()) for name in (
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512")},
}
PYJWT_NAMES = {"Ed25519": "EdDSA", "Ed448": "EdDSA"}
# Members that only a private (or symmetric) JWK has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
# RFC 3986 §2.3 unreserved characters, and what a path may hold unencoded besides them.
PATH_SAFE = "-._~" + "!$&'()*+,;=" + ":@/"


class ProofError(TokenError):
    """A DPoP proof was refused. ``reason`` says which check refused it (for logs and the
    challenge's ``error_description``); ``nonce``, with ``use_dpop_nonce``, is the nonce the
    client must put in its next proof (the ``DPoP-Nonce`` response header)."""

    def __init__(self, code: str, reason: str, *, nonce: str | None = None) -> None:
        super().__init__(code)
        self.reason = reason
        self.nonce = nonce

    def __str__(self) -> str:
        return f"{self.code}: {self.reason}"


# The header a server nonce travels in, both ways (RFC 9449 §8).
NONCE_HEADER = "DPoP-Nonce"
# RFC 9449 §8: a token endpoint (login, refresh) asks for a nonce with a 400 (an OAuth error
# response), a protected resource with the table's 401 and its challenge (§9).
TOKEN_ENDPOINT_STATUS = {USE_DPOP_NONCE: 400}


def challenge_scheme() -> str:
    """The DPoP challenge without its error (RFC 9449 §7.1): what a face passes as the scheme
    to ``api_errors.challenge``, which adds ``error=`` from the table."""
    return f'DPoP algs="{" ".join(allowed_algorithms())}"'


def error_status(code: str, *, token_endpoint: bool) -> int:
    """The HTTP status of a DPoP error: the table's, but 400 for ``use_dpop_nonce`` at a
    token endpoint."""
    if token_endpoint and code in TOKEN_ENDPOINT_STATUS:
        return TOKEN_ENDPOINT_STATUS[code]
    return ERROR_CODES[code].status


def _refuse(reason: str) -> ProofError:
    return ProofError(INVALID_DPOP_PROOF, reason)


class ReplayEntry(NamedTuple):
    """The replay record of one proof: a cache key (before the backend's ``make_key``) to
    create with SET NX, expiring after ``ttl`` seconds, when the proof could no longer be
    accepted anyway."""

    key: str
    ttl: int


@dataclass(frozen=True)
class Proof:
    """A proof that passed every check but the replay record (``replay``), not recorded yet."""

    jkt: str  # the key's RFC 7638 SHA-256 thumbprint: what a session is bound to
    jti: str
    iat: float
    htm: str
    htu: str
    replay: ReplayEntry


# --- JOSE helpers --------------------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(segment: str) -> bytes:
    if "=" in segment or "+" in segment or "/" in segment:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # A member given twice is read differently by different parsers (first or last wins):
    # refused, so that what is verified is what every reader sees.
    found = dict(pairs)
    if len(found) != len(pairs):
        raise ValueError("duplicate member")
    return found


def _json_object(segment: str) -> dict[str, Any]:
    value = json.loads(_b64decode(segment), object_pairs_hook=_unique_members)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _utf8(text: str) -> bytes:
    # JSON may carry lone surrogates ("\ud800"): encoded anyway, never a 500.
    return text.encode("utf-8", "surrogatepass")


def access_token_hash(token: str) -> str:
    """``ath``: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2)."""
    return b64url(hashlib.sha256(_utf8(token)).digest())


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


# --- the request's URI ---------------------------------------------------------------------

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


# --- proof keys, imported once per thumbprint ----------------------------------------------

class KeyCache:
    """A bounded LRU of imported public keys by thumbprint. ``imports`` counts the keys
    actually built from a JWK (what the cache saves)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.imports = 0
        self._keys: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, jkt: str, jwk: Mapping[str, Any], algorithm: Any) -> Any:
        with self._lock:
            key = self._keys.get(jkt)
            if key is not None:
                self._keys.move_to_end(jkt)
                return key
        key = algorithm.from_jwk(dict(jwk))
        with self._lock:
            self.imports += 1
            self._keys[jkt] = key
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)
        return key

    def clear(self) -> None:
        with self._lock:
            self._keys.clear()
            self.imports = 0

    def __len__(self) -> int:
        return len(self._keys)


key_cache = KeyCache(KEY_CACHE_SIZE)


def pyjwt_algorithm(name: str) -> Any:
    """PyJWT's algorithm object for a proof's ``alg``; ``NotImplementedError`` when PyJWT
    cannot verify it here (no ``cryptography``)."""
    return jwt.get_algorithm_by_name(PYJWT_NAMES.get(name, name))


@derived_from_settings
def allowed_algorithms() -> dict[str, Any]:
    """PyJWT's algorithm object for each name in ``DPOP_ALGORITHMS`` (never HMAC or none:
    only names of ``ALGORITHM_KEYS`` count)."""
    found = {}
    for name in doubletoken_settings.DPOP_ALGORITHMS:
        if name in ALGORITHM_KEYS:
            try:
                found[name] = pyjwt_algorithm(name)
            except NotImplementedError:  # without the cryptography package
                continue
    return found


def _public_key(header: Mapping[str, Any], algorithm: Any) -> tuple[str, Any]:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _refuse("the jwk header is missing")
    if PRIVATE_MEMBERS & set(jwk):
        raise _refuse("the jwk header holds private key material")
    kty, curves = ALGORITHM_KEYS[header["alg"]]
    crv = jwk.get("crv")
    if jwk.get("kty") != kty or (curves and not (isinstance(crv, str) and crv in curves)):
        raise _refuse(f"the jwk is not a {' or '.join(sorted(curves)) or kty} key for "
                      f"{header['alg']}")
    try:
        jkt = jwk_thumbprint(jwk)
        key = key_cache.get(jkt, jwk, algorithm)
    except Exception as exc:  # PyJWT and cryptography raise several types for bad keys
        raise _refuse("the jwk is not a usable public key") from exc
    if kty == "RSA" and key.key_size < MIN_RSA_BITS:
        raise _refuse(f"RSA keys need at least {MIN_RSA_BITS} bits")
    return jkt, key


# --- the checks ----------------------------------------------------------------------------

def _single_value(values: str | Sequence[str] | None) -> str:
    if values is None:
        raise _refuse("the request has no DPoP header")
    if not isinstance(values, str):
        if len(values) != 1:
            raise _refuse("the request has more than one DPoP header")
        values = values[0]
        if not isinstance(values, str):
            raise _refuse("the proof is not a JWT")
    value = values.strip()
    if "," in value:  # servers join repeated headers with commas; a JWS has none
        raise _refuse("the request has more than one DPoP header")
    if len(value) > MAX_PROOF_LENGTH:
        raise _refuse("the proof is too long")
    if not value or not value.isascii() or not value.isprintable() or " " in value:
        raise _refuse("the proof is not a JWT")
    return value


def _header(segment: str) -> dict[str, Any]:
    try:
        header = _json_object(segment)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, binascii.Error; nesting
        raise _refuse("the proof's header is not a JSON object") from exc
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() != PROOF_TYPE:
        raise _refuse(f'the proof\'s typ is not "{PROOF_TYPE}"')
    if "crit" in header:  # no extension is understood here (RFC 7515 §4.1.11)
        raise _refuse("the proof has critical header extensions")
    if not isinstance(header.get("alg"), str) or header["alg"] not in allowed_algorithms():
        raise _refuse("the proof's alg is not allowed")
    return header


def _verify_signature(token: str, algorithm: Any, key: Any) -> None:
    signing_input, _, signature = token.rpartition(".")
    try:
        valid = algorithm.verify(signing_input.encode("ascii"), key, _b64decode(signature))
    except (ValueError, TypeError, binascii.Error):  # a signature of the wrong shape
        valid = False
    if not valid:
        raise _refuse("the proof's signature does not verify with its jwk")


def _claims(segment: str) -> dict[str, Any]:
    try:
        claims = _json_object(segment)
    except (ValueError, RecursionError) as exc:
        raise _refuse("the proof's payload is not a JSON object") from exc
    for name in ("jti", "htm", "htu"):
        if not isinstance(claims.get(name), str) or not claims[name]:
            raise _refuse(f"the proof has no {name}")
    if len(claims["jti"]) > MAX_JTI_LENGTH:
        raise _refuse("the proof's jti is too long")
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or (
        isinstance(iat, float) and not math.isfinite(iat)
    ):
        raise _refuse("the proof has no iat")
    return claims


def _check_target(claims: Mapping[str, Any], method: str, uri: str) -> str:
    if claims["htm"] != method:
        raise _refuse("the proof's htm is not this request's method")
    htu = claims["htu"]
    if "?" in htu or "#" in htu:
        raise _refuse("the proof's htu has a query or fragment")
    try:
        matches = normalize_uri(htu) == normalize_uri(uri)
    except ValueError as exc:
        raise _refuse("the proof's htu is not an absolute URI") from exc
    if not matches:
        raise _refuse("the proof's htu is not this request's URL")
    return htu


def _check_age(iat: float, now: float) -> float:
    """Seconds the proof stays acceptable (for the replay record's expiry)."""
    max_age = doubletoken_settings.DPOP_PROOF_MAX_AGE.total_seconds()
    leeway = doubletoken_settings.LEEWAY.total_seconds()
    if iat > now + leeway:
        raise _refuse("the proof's iat is in the future")
    if iat < now - max_age:
        raise _refuse("the proof is too old")
    # Accepted until iat + max_age; another host whose clock lags by up to LEEWAY still
    # accepts it that much longer, so the record outlives the window by that much too.
    return iat + max_age + leeway - now


def check_proof(
    values: str | Sequence[str] | None,
    *,
    method: str,
    uri: str,
    access_token: str | None = None,
    jkt: str | None = None,
    now: float | None = None,
) -> Proof:
    """Check a request's DPoP proof (RFC 9449 §4.3) except for replay; write nothing.

    ``values``: the request's ``DPoP`` header values (one string, or a list of them);
    ``method`` and ``uri`` the request's (``http.request_uri``, with or without query);
    ``access_token`` the token sent with it, whose hash the proof must carry (``ath``);
    ``jkt`` the thumbprint the session is bound to, which the proof's key must have.
    Raises ``ProofError``: ``invalid_dpop_proof``, or ``use_dpop_nonce`` (with the fresh
    nonce) when ``DPOP_NONCE`` is on and the proof has no current nonce. The caller then
    records ``proof.replay`` (``record_replay`` or ``queue_replay``) before accepting it.
    """
    token = _single_value(values)
    segments = token.split(".")
    if len(segments) != 3:
        raise _refuse("the proof is not a signed JWT")
    header = _header(segments[0])
    algorithm = allowed_algorithms()[header["alg"]]
    proof_jkt, key = _public_key(header, algorithm)
    _verify_signature(token, algorithm, key)
    claims = _claims(segments[1])
    htu = _check_target(claims, method, uri)
    now = time.time() if now is None else now
    remaining = _check_age(claims["iat"], now)
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(
            _utf8(ath), access_token_hash(access_token).encode()
        ):
            raise _refuse("the proof's ath is not the hash of this access token")
    if jkt is not None and not hmac.compare_digest(proof_jkt.encode(), jkt.encode()):
        raise _refuse("the proof is signed by another key than the token is bound to")
    # Last: a client is asked for a nonce only by a proof that is right otherwise.
    if doubletoken_settings.DPOP_NONCE and not nonce_is_current(claims.get("nonce"), now):
        raise use_dpop_nonce(now)
    replay = ReplayEntry(replay_key(proof_jkt, claims["jti"]), max(1, math.ceil(remaining)))
    return Proof(proof_jkt, claims["jti"], claims["iat"], claims["htm"], htu, replay)


def verify_proof(values: str | Sequence[str] | None, **request: Any) -> Proof:
    """``check_proof`` (the same arguments), then its replay record on its own (one cache
    write)."""
    proof = check_proof(values, **request)
    record_replay(proof.replay)
    return proof


async def averify_proof(values: str | Sequence[str] | None, **request: Any) -> Proof:
    """``verify_proof`` for async code (the same arguments): the record through the async
    cache."""
    proof = check_proof(values, **request)
    await arecord_replay(proof.replay)
    return proof


# --- the replay store ----------------------------------------------------------------------

def replay_key(jkt: str, jti: str) -> str:
    """The key's thumbprint (as the hash tag: one device's records stay on one Cluster node)
    and a digest of the jti, so a client's long or odd jti costs no more than a short one."""
    digest = b64url(hashlib.sha256(_utf8(jti)).digest()[:16])
    return f"{doubletoken_settings.CACHE_KEY_PREFIX}:dpop:{{{jkt}}}:{digest}"


REPLAYED = "the proof was already used"


def replay_accepted(added: Any) -> None:
    """Raise unless the SET NX (or ``add``) of a replay record created it."""
    if not added:
        raise _refuse(REPLAYED)


def record_replay(entry: ReplayEntry) -> None:
    """Create the replay record; ``invalid_dpop_proof`` if it exists (the proof was used)."""
    with store.available():
        replay_accepted(store.cache().add(entry.key, 1, entry.ttl))


async def arecord_replay(entry: ReplayEntry) -> None:
    with store.available():
        replay_accepted(await store._acall("add", entry.key, 1, entry.ttl))


def queue_replay(pipeline: Any, backend: Any, entry: ReplayEntry) -> None:
    """Queue the replay record's SET NX in a redis-py pipeline of ``backend`` (a django-redis
    cache), beside the request's other commands; pass its result to ``replay_accepted``.
    Stores what ``record_replay`` stores (django-redis keeps integers unpickled)."""
    pipeline.set(backend.make_key(entry.key), 1, nx=True, ex=entry.ttl)


# --- nonces (RFC 9449 §8-9) ----------------------------------------------------------------

@derived_from_settings
def _nonce_secret() -> bytes:
    """Derived from the signing key (or SECRET_KEY when there is none), so every worker on
    every host issues and accepts the same nonces without sharing state."""
    material = doubletoken_settings.SIGNING_KEY or settings.SECRET_KEY
    if isinstance(material, str):
        material = material.encode()
    return hashlib.sha256(b"django_doubletoken.dpop-nonce:" + material).digest()


def _slot(now: float) -> int:
    return int(now // doubletoken_settings.DPOP_NONCE_ROTATION.total_seconds())


def _nonce_of_slot(slot: int) -> str:
    mac = hmac.new(_nonce_secret(), str(slot).encode(), hashlib.sha256).digest()
    return b64url(mac[:24])


def current_nonce(now: float | None = None) -> str:
    """The nonce to send in ``DPoP-Nonce``: it changes every ``DPOP_NONCE_ROTATION``."""
    return _nonce_of_slot(_slot(time.time() if now is None else now))


def nonce_is_current(nonce: Any, now: float | None = None) -> bool:
    """True for the nonce of this slot or the previous one (so a nonce lives one to two
    rotations), and of the next one while a host whose clock runs up to LEEWAY ahead may
    already issue it."""
    if not isinstance(nonce, str):
        return False
    now = time.time() if now is None else now
    slots = {_slot(now) - 1, _slot(now), _slot(now + doubletoken_settings.LEEWAY.total_seconds())}
    given = _utf8(nonce)
    # Every candidate is compared, so the time taken does not say which one matched.
    return sum(hmac.compare_digest(given, _nonce_of_slot(s).encode()) for s in slots) > 0


def use_dpop_nonce(now: float | None = None) -> ProofError:
    """The ``use_dpop_nonce`` error, carrying the nonce the client must use (for the
    ``DPoP-Nonce`` header of the 400 at token endpoints, 401 elsewhere)."""
    return ProofError(USE_DPOP_NONCE, "the proof has no current nonce",
                      nonce=current_nonce(now))
