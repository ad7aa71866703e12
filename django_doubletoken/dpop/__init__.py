"""DPoP (RFC 9449): proof that the client holds the private key its tokens are bound to.

A client signs a short JWT (the *proof*) for each request with a key pair it never reveals;
the proof's header carries the public key, its claims the request's method (``htm``) and URL
(``htu``), when it was made (``iat``), a unique ``jti`` and, with an access token, the token's
hash (``ath``). A session bound at login to the key's RFC 7638 thumbprint (``cnf.jkt``) is then
useless to whoever steals its tokens without the key.

This module is core: it sees the request as plain strings (method, URL, header values) that
the face hands down (``http.request_uri``), raises ``ProofError`` with a core code, and
touches the cache only through the replay store (``replay``). The order of the checks matters:
``check_proof`` writes nothing, and the replay record is added only after every other check
passed, so garbage proofs cannot fill the store.

The replay record's single write is a ``SET NX``. A face that reads the session state in a
pipeline queues it there (``queue_replay`` then ``replay_accepted``), so a DPoP request keeps
its one cache round trip; ``record_replay`` / ``arecord_replay`` write it on their own.

The package, by seam: ``jose`` (base64url, JSON, ``ath``, thumbprints, ``htu`` normal form),
``keys`` (algorithms and the proof-key cache), ``proof`` (the checks), ``replay`` (the replay
store), ``nonces`` and ``errors`` (``ProofError``, statuses, the ``DPoP-Nonce`` header), and
``binding`` (the profile modes applied at login, at refresh and on every request).
"""

from __future__ import annotations

from .binding import ProofRequest, access_proof, check_refresh, enabled, login_proof, mode
from .errors import NONCE_HEADER, TOKEN_ENDPOINT_STATUS, ProofError, error_status
from .jose import access_token_hash, b64url, jwk_thumbprint, normalize_uri
from .keys import (
    ALGORITHM_KEYS,
    KEY_CACHE_SIZE,
    MIN_RSA_BITS,
    PRIVATE_MEMBERS,
    KeyCache,
    allowed_algorithms,
    challenge_scheme,
    key_cache,
    pyjwt_algorithm,
)
from .nonces import current_nonce, nonce_is_current, use_dpop_nonce
from .proof import (
    MAX_JTI_LENGTH,
    MAX_PROOF_LENGTH,
    MODES,
    OFF,
    OPTIONAL,
    PROOF_TYPE,
    REQUIRED,
    Proof,
    averify_proof,
    check_proof,
    verify_proof,
)
from .replay import (
    REPLAYED,
    ReplayEntry,
    arecord_replay,
    queue_replay,
    record_replay,
    replay_accepted,
    replay_key,
)

__all__ = [
    "ALGORITHM_KEYS", "KEY_CACHE_SIZE", "MAX_JTI_LENGTH", "MAX_PROOF_LENGTH", "MIN_RSA_BITS",
    "MODES", "NONCE_HEADER", "OFF", "OPTIONAL", "PRIVATE_MEMBERS", "PROOF_TYPE", "REPLAYED",
    "REQUIRED", "TOKEN_ENDPOINT_STATUS", "KeyCache", "Proof", "ProofError", "ProofRequest",
    "ReplayEntry", "access_proof", "access_token_hash", "allowed_algorithms", "check_refresh",
    "enabled", "login_proof", "mode", "arecord_replay", "averify_proof", "b64url",
    "challenge_scheme", "check_proof", "current_nonce", "error_status", "jwk_thumbprint",
    "key_cache", "nonce_is_current", "normalize_uri", "pyjwt_algorithm", "queue_replay",
    "record_replay", "replay_accepted", "replay_key", "use_dpop_nonce", "verify_proof",
]
