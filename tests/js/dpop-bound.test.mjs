// A session the server binds to the client's DPoP key ("bound" profile: DPOP optional): login
// with a proof binds it (token_type DPoP, cnf.jkt = the key's thumbprint); every call, the one
// refresh of a burst and the logout carry proofs of that key; a client with another key cannot
// use the tokens.
import assert from "node:assert/strict";
import { test } from "node:test";

import { memoryStorage } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";
import { ME_URL, expireStoredToken, login, newClient, serverCounts } from "./helpers.mjs";

function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

test("a bound session: login binds, a burst after expiry refreshes once with a proof, logout", async () => {
  const storage = memoryStorage();
  const client = newClient({ storage, dpop: true });
  const pair = await login(client, "node bound", "bound");

  assert.equal(pair.token_type, "DPoP");
  assert.equal(client.isBound(), true);
  assert.equal(claims(pair.access).cnf.jkt, await client.dpopThumbprint());
  assert.equal((await client.fetch(ME_URL)).status, 200);

  // Stolen, the tokens are useless: as Bearer, or by a client with another key.
  const thief = newClient({ storage: memoryStorage(), dpop: true });
  assert.notEqual(await thief.dpopThumbprint(), await client.dpopThumbprint());
  const bearer = await fetch(ME_URL, { headers: { Authorization: `Bearer ${pair.access}` } });
  assert.equal(bearer.status, 401);
  const { headers } = await client.authorize("GET", ME_URL);
  const stolen = await fetch(ME_URL, { headers: { Authorization: headers.Authorization } });
  assert.equal((await stolen.json()).code, "invalid_dpop_proof");

  await expireStoredToken(storage);
  const responses = await Promise.all(Array.from({ length: 20 }, () => client.fetch(ME_URL)));
  assert.deepEqual(responses.map((r) => r.status), Array(20).fill(200));
  assert.equal((await serverCounts(pair.session_id)).refreshes, 1);
  assert.equal(claims(client.accessToken()).cnf.jkt, await client.dpopThumbprint());
  assert.equal(client.isBound(), true);

  await client.logout();
  assert.equal(client.isAuthenticated(), false);
  const after = await fetch(ME_URL, { headers: { Authorization: headers.Authorization, DPoP: headers.DPoP } });
  assert.equal(after.status, 401);
});

test("a clock five minutes off: the refused proof's Date header sets it right, once", async () => {
  const storage = memoryStorage();
  const client = newClient({ storage, dpop: true, now: () => Date.now() + 5 * 60_000 });
  const pair = await login(client, "node bound skewed", "bound");
  assert.equal(pair.token_type, "DPoP");
  assert.ok(Math.abs(storage.get().clockOffset + 5 * 60_000) < 2000);
  assert.equal((await client.fetch(ME_URL)).status, 200);
});
