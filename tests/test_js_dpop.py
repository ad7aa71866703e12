"""The JS client's DPoP proofs (static/django_doubletoken/doubletoken-dpop.js) pass the core's
own verification, ``django_doubletoken.dpop.check_proof``.

Node makes the proofs with WebCrypto, as a browser does (the browser tests make them in
Chromium); Python checks every one of them: signature, ``typ``/``alg``/``jwk``, ``htm`` (as fetch
sends the method), ``htu`` (no query or fragment), ``iat``, ``ath`` and the key's thumbprint,
and the server's nonce once the client has seen it.
"""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from django_doubletoken import dpop

PACKAGE = Path(dpop.__file__).parent.parent
DPOP_JS = PACKAGE / "static" / "django_doubletoken" / "doubletoken-dpop.js"

# Prints one JSON object: the key's thumbprint and a proof for each request of argv[1].
MAKE_PROOFS = """
import { DPoPProver, storedKeyPair } from %s;
const requests = JSON.parse(process.argv[1]);
const prover = new DPoPProver(() => storedKeyPair("node-test"));
const proofs = [];
for (const request of requests) {
  if (request.nonce) prover.rememberNonce(request.url, request.nonce);
  proofs.push(await prover.proof(request));
}
const pair = await prover.keyPair();
let exported = "exported";
try {
  await crypto.subtle.exportKey("pkcs8", pair.privateKey);
} catch (error) {
  exported = error.name;
}
console.log(JSON.stringify({ thumbprint: await prover.thumbprint(), proofs, exported }));
"""


def make_proofs(requests):
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the JS client's DPoP proofs")
    script = MAKE_PROOFS % json.dumps(str(DPOP_JS))
    done = subprocess.run([node, "--input-type=module", "-e", script, json.dumps(requests)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_js_proofs_pass_the_cores_checks(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    now = time.time()
    nonce = dpop.current_nonce(now)
    token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    requests = [
        {"method": "POST", "url": "http://testserver/api/auth/login/", "now": now * 1000,
         "nonce": nonce},
        {"method": "get", "url": "http://testserver/api/me/?page=2#top", "now": now * 1000,
         "accessToken": token},
        # Another host: a nonce of its own (the others reuse testserver's, the socket too).
        {"method": "patch", "url": "https://example.com:443/api/x/", "now": now * 1000,
         "nonce": nonce},
        {"method": "GET", "url": "ws://testserver/ws/notifications/?a=1", "now": now * 1000,
         "accessToken": token},
    ]
    made = make_proofs(requests)
    login, me, patch, socket = made["proofs"]
    jkt = made["thumbprint"]

    proof = dpop.check_proof(login, method="POST", uri="http://testserver/api/auth/login/",
                             now=now)
    assert proof.jkt == jkt and proof.htm == "POST"
    # fetch() sends "get" as GET; the query and fragment stay out of htu.
    proof = dpop.check_proof(me, method="GET", uri="http://testserver/api/me/?page=2",
                             access_token=token, jkt=jkt, now=now)
    assert proof.htu == "http://testserver/api/me/"
    # ...but "patch" goes out as written (the Fetch standard normalises six methods only).
    dpop.check_proof(patch, method="patch", uri="https://example.com/api/x/", now=now)
    dpop.check_proof(socket, method="GET", uri="ws://testserver/ws/notifications/",
                     access_token=token, jkt=jkt, now=now)
    # Every proof is unique (jti) and the private key never leaves WebCrypto.
    assert len({dpop.check_proof(p, method=r["method"].upper() if r["method"] != "patch"
                                 else "patch", uri=r["url"], now=now).jti
                for p, r in zip(made["proofs"], requests, strict=True)}) == 4
    assert made["exported"].startswith("InvalidAccess")  # node: InvalidAccessException


def test_a_proof_is_refused_for_another_request_or_token(settings):
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": False}
    now = time.time()
    (proof,), jkt = (lambda m: (m["proofs"], m["thumbprint"]))(make_proofs([
        {"method": "POST", "url": "http://testserver/api/auth/logout/", "now": now * 1000,
         "accessToken": "one.token.here"}]))
    good = {"method": "POST", "uri": "http://testserver/api/auth/logout/", "now": now,
            "access_token": "one.token.here", "jkt": jkt}
    dpop.check_proof(proof, **good)
    for wrong in ({"method": "GET"}, {"uri": "http://testserver/api/auth/logout"},
                  {"access_token": "another.token.here"}, {"jkt": "x" * 43},
                  {"now": now + 3600}):
        with pytest.raises(dpop.ProofError) as refused:
            dpop.check_proof(proof, **{**good, **wrong})
        assert refused.value.code == "invalid_dpop_proof", wrong
    # Without the server's nonce, when the server wants one: use_dpop_nonce.
    settings.DOUBLETOKEN = {**settings.DOUBLETOKEN, "DPOP_NONCE": True}
    with pytest.raises(dpop.ProofError) as refused:
        dpop.check_proof(proof, **good)
    assert refused.value.code == "use_dpop_nonce"
