// NEW_HTTP_AUTHORIZATION pick-up, and the proactive refresh timed by the server's clock.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ME_URL, login, newClient, recordEvents, serverCounts, sleep } from "./helpers.mjs";

test("a near-expiry token is swapped for the one in NEW_HTTP_AUTHORIZATION", async () => {
  const auth = newClient();
  const events = recordEvents(auth);
  const pair = await login(auth);
  await sleep(auth.expiresIn() - 1300); // inside the server's 2 s sliding threshold

  const responses = await Promise.all(Array.from({ length: 5 }, () => auth.fetch(ME_URL)));

  assert.deepEqual(responses.map((r) => r.status), Array(5).fill(200));
  const headers = new Set(responses.map((r) => r.headers.get("NEW_HTTP_AUTHORIZATION")));
  assert.equal(headers.size, 1, "every response carries the same successor");
  const [header] = headers;
  assert.equal(auth.accessToken(), header.replace("Bearer ", ""));
  assert.equal(events.filter((e) => e.type === "slide").length, 1);
  assert.ok(auth.expiresIn() > 2000, "the expiry follows the new token's exp claim");
  const next = await auth.fetch(ME_URL);
  assert.equal(next.status, 200);
  assert.equal(next.headers.get("NEW_HTTP_AUTHORIZATION"), null);
  assert.equal((await serverCounts(pair.session_id)).refreshes, 0, "no refresh was needed");
});

test("a header for a token that is no longer stored is ignored", async () => {
  const auth = newClient();
  await login(auth);
  const current = auth.accessToken();
  assert.equal(auth.pickUpHeader("Bearer some.newer.token", "an-older-token"), false);
  assert.equal(auth.accessToken(), current);
});

test("proactive refresh follows the server's clock, not a wrong local one", async () => {
  // This machine's clock is a minute behind the server's. Trusting it, the token would seem
  // to have over a minute left and no refresh would come; with the offset from the Date header,
  // the refresh comes 1 s before the server's expiry.
  const auth = newClient({ refreshBeforeExpiry: 1, now: () => Date.now() - 60_000 });
  const events = recordEvents(auth);
  const pair = await login(auth);
  assert.ok(auth.expiresIn() > 1500 && auth.expiresIn() <= 4000, `${auth.expiresIn()} ms`);
  const expiresAt = Date.now() + auth.expiresIn(); // by the real (system) clock

  while (!events.some((e) => e.type === "refresh") && Date.now() < expiresAt + 1000) {
    await sleep(50);
  }

  const refresh = events.find((e) => e.type === "refresh");
  assert.equal(refresh?.reason, "proactive");
  assert.ok(refresh.at < expiresAt, "refreshed before the token expired");
  assert.deepEqual(await serverCounts(pair.session_id),
                   { refreshes: 1, rotations: 1, expired_hits: 0 });
  assert.equal((await auth.fetch(ME_URL)).status, 200);
});
