#!/usr/bin/env python
"""DPoP in process: what a proof check costs, and what the replay store holds per device.

    python bench/dpop_proof.py                 # 5 rounds of 2000 calls each
    python bench/dpop_proof.py --calls 5000 --json bench/results/dpop.json  # and dpop.md

Prints, per call and best of the rounds, the microseconds of
- a bare PyJWT HS256 decode of an access token (the bearer path's signature check),
- ``dpop.check_proof`` for ES256 and EdDSA proofs (every check of RFC 9449 §4.3 but the
  replay record; the proof key from the thumbprint cache, as for a device's every request
  after its first), and the same with the key imported every time (cache cleared),
- ``dpop.verify_proof`` (the check plus its replay record, one SET NX to a private redis-server
  on localhost: what a face pays when it cannot queue the record in its own round trip),
and the replay store's memory for one active device at 10 requests a second: as many records
as the window keeps alive (10 x (DPOP_PROOF_MAX_AGE + LEEWAY)), summed with Redis' MEMORY
USAGE. Ratios against the HS256 decode are what to compare across machines.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from pathlib import Path

from infra import RedisServer

ROUNDS = 5
REQUESTS_PER_SECOND = 10
URL = "https://api.example.com/api/me/"


def configure(redis_url: str) -> None:
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-" + "x" * 50,
        INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes"],
        CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": redis_url}},
        DOUBLETOKEN={"SIGNING_KEY": "bench-signing-key-" + "y" * 40},
    )
    django.setup()


def per_call_us(variants: dict, rounds: int = ROUNDS) -> dict[str, float]:
    """Best mean µs per call of each variant, ``name: (function, arguments)``. Every round
    runs every variant in turn, so a load change on a shared machine hits them alike and the
    ratios hold better than the absolute times. ``arguments`` is a list (the same calls each
    round) or a callable returning a fresh list per round (proofs recorded once)."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(rounds):
        for name, (function, arguments) in variants.items():
            batch = arguments() if callable(arguments) else arguments
            started = time.perf_counter()
            for argument in batch:
                function(argument)
            best[name] = min(best[name], (time.perf_counter() - started) / len(batch))
    return {name: value * 1e6 for name, value in best.items()}


def make_proofs(alg: str, count: int, now: int, token: str) -> list[str]:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519

    from django_doubletoken import dpop

    key = ec.generate_private_key(ec.SECP256R1()) if alg == "ES256" else \
        ed25519.Ed25519PrivateKey.generate()
    jwk = jwt.get_algorithm_by_name(alg).to_jwk(key.public_key(), as_dict=True)
    header = {"typ": "dpop+jwt", "jwk": jwk}
    ath = dpop.access_token_hash(token)
    return [jwt.encode({"jti": str(uuid.uuid4()), "htm": "GET", "htu": URL, "iat": now,
                        "ath": ath}, key, algorithm=alg, headers=header)
            for _ in range(count)]


def run(calls: int) -> dict:
    import jwt

    from django_doubletoken import dpop
    from django_doubletoken.conf import doubletoken_settings

    now = int(time.time())
    secret = "bench-hs256-secret-" + "z" * 40
    token = jwt.encode({"sub": "1", "sid": "s", "jti": "j", "exp": now + 900, "iat": now},
                       secret, algorithm="HS256")
    results: dict = {"calls": calls, "rounds": ROUNDS}
    variants: dict = {
        "hs256_decode_us": (lambda t: jwt.decode(t, secret, algorithms=["HS256"]),
                            [token] * calls),
    }

    def check(proof: str) -> None:
        dpop.check_proof(proof, method="GET", uri=URL, access_token=token, now=now)

    def check_cold(proof: str) -> None:
        dpop.key_cache.clear()
        check(proof)

    def verify(proof: str) -> None:
        dpop.verify_proof(proof, method="GET", uri=URL, access_token=token, now=now)

    for alg in ("ES256", "EdDSA"):
        proofs = make_proofs(alg, calls, now, token)
        variants[f"{alg}_check_us"] = (check, proofs)
        variants[f"{alg}_check_key_imported_us"] = (check_cold, proofs)
        # A proof is recorded once: fresh ones for every round.
        variants[f"{alg}_verify_with_replay_record_us"] = (
            verify, lambda alg=alg: make_proofs(alg, calls, now, token))
    results.update(per_call_us(variants))
    window = (doubletoken_settings.DPOP_PROOF_MAX_AGE + doubletoken_settings.LEEWAY)
    results["window_seconds"] = window.total_seconds()
    results["live_records_per_device"] = int(REQUESTS_PER_SECOND * window.total_seconds())
    return results


def replay_memory(server: RedisServer, records: int) -> dict:
    from django_doubletoken import dpop

    server.client.flushdb()
    jkt = dpop.jwk_thumbprint({"kty": "EC", "crv": "P-256", "x": "x" * 43, "y": "y" * 43})
    for _ in range(records):
        dpop.record_replay(dpop.ReplayEntry(dpop.replay_key(jkt, str(uuid.uuid4())), 70))
    keys = server.client.keys("*")
    usage = [server.client.memory_usage(key, samples=0) for key in keys]
    return {"record_key_example": keys[0].decode(), "bytes_per_record": sum(usage) / len(usage),
            "bytes_per_device_at_10_rps": sum(usage)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--json", type=Path,
                        help="also write the results there, and the table beside it (.md)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        server = RedisServer(Path(workdir))
        try:
            configure(server.url)
            results = run(args.calls)
            results.update(replay_memory(server, results["live_records_per_device"]))
            results["redis_version"] = server.version
            results["load_average"] = os.getloadavg()[0]
        finally:
            server.stop()
    report = markdown(results, args.calls)
    print(report)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        args.json.with_suffix(".md").write_text(report)


def markdown(results: dict, calls: int) -> str:
    """The results as the table docs/explanation/dpop.md includes."""
    base = results["hs256_decode_us"]
    lines = [
        f"Command: `python bench/dpop_proof.py --calls {calls}`; best of {ROUNDS} rounds; "
        f"load average {results['load_average']:.1f} on {os.cpu_count()} CPUs; "
        f"Redis {results['redis_version']} on localhost.",
        "",
        "| per call | µs | × HS256 decode |",
        "| --- | ---: | ---: |",
        f"| PyJWT HS256 decode of an access token | {base:.1f} | 1.0 |",
    ]
    for alg in ("ES256", "EdDSA"):
        for label, key in (("`check_proof`, key from the thumbprint cache", "check"),
                           ("`check_proof`, key imported each time", "check_key_imported"),
                           ("`verify_proof` (check + replay `SET NX`, own round trip)",
                            "verify_with_replay_record")):
            value = results[f"{alg}_{key}_us"]
            lines.append(f"| {alg} {label} | {value:.1f} | {value / base:.1f} |")
    per_device = results["bytes_per_device_at_10_rps"] / 1024
    lines += [
        "",
        f"Replay store, one device at {REQUESTS_PER_SECOND} requests/s: "
        f"{results['live_records_per_device']} live records × "
        f"{results['bytes_per_record']:.0f} B (`MEMORY USAGE`) = {per_device:.1f} KiB.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
