"""How a refused proof is told: ``ProofError`` and the statuses and header of RFC 9449 §7-9."""

from __future__ import annotations

from ..errors import ERROR_CODES, INVALID_DPOP_PROOF, USE_DPOP_NONCE, TokenError


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


def error_status(code: str, *, token_endpoint: bool) -> int:
    """The HTTP status of a DPoP error: the table's, but 400 for ``use_dpop_nonce`` at a
    token endpoint."""
    if token_endpoint and code in TOKEN_ENDPOINT_STATUS:
        return TOKEN_ENDPOINT_STATUS[code]
    return ERROR_CODES[code].status


def refuse(reason: str) -> ProofError:
    return ProofError(INVALID_DPOP_PROOF, reason)
