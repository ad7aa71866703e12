// A server that keeps answering 401 token_expired: each request refreshes (shared) and is
// replayed once, then its 401 is returned. No loop.
import assert from "node:assert/strict";
import { test } from "node:test";

import { BASE, ME_URL, login, newClient, serverCounts } from "./helpers.mjs";

const ALWAYS_EXPIRED = `${BASE}/__test__/always-expired/`;

test("no refresh loop when the server keeps answering 401 token_expired", async () => {
  const auth = newClient();
  const pair = await login(auth);

  const response = await auth.fetch(ALWAYS_EXPIRED);

  assert.equal(response.status, 401);
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 1, rotations: 1, expired_hits: 2 });

  const burst = await Promise.all(Array.from({ length: 10 }, () => auth.fetch(ALWAYS_EXPIRED)));
  assert.deepEqual(burst.map((r) => r.status), Array(10).fill(401));
  // One more refresh shared by the ten, each request sent twice, and nothing after.
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 2, rotations: 2, expired_hits: 22 });
  assert.equal(auth.isAuthenticated(), true, "a broken endpoint is no reason to log out");
  assert.equal((await auth.fetch(ME_URL)).status, 200);
});

test("a Request object with a body is replayed intact", async () => {
  const auth = newClient();
  const pair = await login(auth);
  const request = new Request(ALWAYS_EXPIRED, { method: "POST", body: JSON.stringify({ a: 1 }),
                                               headers: { "Content-Type": "application/json" } });
  const response = await auth.fetch(request);
  assert.equal(response.status, 401);
  assert.equal((await serverCounts(pair.session_id)).expired_hits, 2);
});
