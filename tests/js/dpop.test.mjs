// DPoP in the client: a bound session's requests carry `Authorization: DPoP` and a proof that
// the core's dpop.check_proof accepts (the test server's __test__/dpop-nonce/ checks it), the
// server's nonce is picked up with exactly one more try, and a server that keeps asking for a
// new one gets no more than that. (The session is marked bound in storage: what login does
// once the server binds; the end-to-end tests live in tests/test_browser_dpop.py.)
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { test } from "node:test";

import { attachAxios } from "../../django_doubletoken/static/django_doubletoken/doubletoken-axios.js";
import { memoryStorage } from "../../django_doubletoken/static/django_doubletoken/doubletoken.js";
import { BASE, login, newClient } from "./helpers.mjs";

const CHECKED = `${BASE}/__test__/dpop-nonce/`;
const ALWAYS_NONCE = `${BASE}/__test__/always-nonce/`;

async function nonceHits(sessionId) {
  return (await (await fetch(`${BASE}/__test__/nonce-hits/${sessionId}/`)).json()).hits;
}

async function boundClient(options = {}) {
  const storage = memoryStorage();
  const client = newClient({ storage, dpop: true, ...options });
  const pair = await login(client, "node dpop");
  storage.set({ ...storage.get(), tokenType: "DPoP" });
  return { client, pair, storage };
}

test("DPoP: one more try with the server's nonce, then proofs carry it", async () => {
  const { client, pair } = await boundClient();
  assert.equal(client.isBound(), true);

  const response = await client.fetch(`${CHECKED}?page=1`, { method: "post" });

  assert.equal(response.status, 200);
  const verified = await response.json();
  assert.equal(verified.jkt, await client.dpopThumbprint());
  assert.deepEqual([verified.htm, verified.htu], ["POST", CHECKED]);
  assert.equal(await nonceHits(pair.session_id), 2); // refused without the nonce, then accepted
  // The nonce is remembered: the next request needs one try; a GET is proven as GET.
  assert.equal((await client.fetch(CHECKED)).status, 200);
  assert.equal(await nonceHits(pair.session_id), 3);
});

test("DPoP: no loop when the server keeps asking for another nonce", async () => {
  const { client, pair } = await boundClient();
  const burst = await Promise.all(Array.from({ length: 5 }, () => client.fetch(ALWAYS_NONCE)));
  assert.deepEqual(burst.map((r) => r.status), Array(5).fill(401));
  assert.equal(await nonceHits(pair.session_id), 10); // each sent twice, never more
  assert.equal(client.isAuthenticated(), true);
});

test("DPoP: the key is shared by the clients of one profile, and a client without dpop sends none", async () => {
  const name = `dpop-shared-${Date.now()}`;
  const first = newClient({ dpop: true, name });
  const second = newClient({ dpop: true, name });
  const [a, b] = await Promise.all([first.dpopThumbprint(), second.dpopThumbprint()]);
  assert.equal(a, b);
  assert.notEqual(a, await newClient({ dpop: true }).dpopThumbprint());

  const plain = newClient();
  await login(plain, "node plain");
  assert.equal(await plain.dpopThumbprint(), null);
  const { headers } = await plain.authorize("GET", CHECKED);
  assert.deepEqual(Object.keys(headers), ["Authorization"]);
  assert.match(headers.Authorization, /^Bearer /);
});

test("DPoP: a slid token of a bound session stays bound", async () => {
  const { client, storage } = await boundClient();
  const sent = client.accessToken();
  const newer = `${sent.split(".")[0]}.${sent.split(".")[1]}.other`;
  assert.equal(client.pickUpHeader(`DPoP ${newer}`, sent), true);
  assert.equal(client.accessToken(), newer);
  assert.equal(storage.get().tokenType, "DPoP");
});

test("DPoP through the axios adapter: a proof per request, one more try with the nonce", {
  skip: !process.env.DOUBLETOKEN_TEST_AXIOS && "the real axios is not installed",
}, async () => {
  const axios = createRequire(import.meta.url)(process.env.DOUBLETOKEN_TEST_AXIOS);
  const { client, pair } = await boundClient();
  const api = axios.create();
  attachAxios(api, client);

  const response = await api.post(`${CHECKED}?page=1`, { a: 1 });

  assert.equal(response.status, 200);
  assert.equal(response.data.jkt, await client.dpopThumbprint());
  assert.deepEqual([response.data.htm, response.data.htu], ["POST", CHECKED]);
  assert.equal(await nonceHits(pair.session_id), 2);
  await assert.rejects(api.get(ALWAYS_NONCE), (error) => error.response.status === 401);
  assert.equal(await nonceHits(pair.session_id), 4); // once more, never twice
});
