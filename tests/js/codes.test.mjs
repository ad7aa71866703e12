// What each 401 code makes the client do: the same table (tests/error_codes.json) as the
// Python client's tests, so that both clients follow the one rule in the README.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import { BASE, login, newClient, recordEvents, serverCounts } from "./helpers.mjs";

const RULE = Object.entries(
  JSON.parse(readFileSync(new URL("../error_codes.json", import.meta.url), "utf8")),
).filter(([code]) => !code.startsWith("_"));

/** A client whose requests to `path` are counted. */
function countingClient(path) {
  const counts = { hits: 0 };
  const client = newClient({
    fetch: (input, init) => {
      if (new URL(input instanceof Request ? input.url : input).pathname === path) counts.hits++;
      return fetch(input, init);
    },
  });
  return { client, counts };
}

for (const [code, action] of RULE) {
  test(`a 401 ${code}: ${action}`, async () => {
    const path = `/__test__/unauthorized/${code}/`;
    const { client, counts } = countingClient(path);
    const events = recordEvents(client);
    const pair = await login(client, `codes ${code}`);

    const response = await client.fetch(`${BASE}${path}`);

    assert.equal(response.status, 401);
    assert.equal((await response.json()).code, code);
    const logouts = events.filter((e) => e.type === "logout").map((e) => e.reason);
    const { refreshes } = await serverCounts(pair.session_id);
    if (action === "refresh") { // one refresh, one replay (which gets the same 401: no loop)
      assert.equal(refreshes, 1);
      assert.equal(counts.hits, 2);
      assert.notEqual(client.accessToken(), pair.access);
      assert.ok(client.isAuthenticated());
      assert.deepEqual(logouts, []);
    } else if (action === "logout") { // no refresh: tokens dropped, the app told why
      assert.equal(refreshes, 0);
      assert.equal(counts.hits, 1);
      assert.equal(client.isAuthenticated(), false);
      assert.deepEqual(logouts, [code]);
    } else { // returned as it is, tokens kept
      assert.equal(action, "return");
      assert.equal(refreshes, 0);
      assert.equal(counts.hits, 1);
      assert.equal(client.accessToken(), pair.access);
      assert.deepEqual(logouts, []);
    }
  });
}

test("a token replaced meanwhile is used, whatever the code", async () => {
  const client = newClient();
  const events = recordEvents(client);
  const pair = await login(client, "codes replaced");
  for (const [code, action] of RULE) {
    if (action === "return") continue;
    assert.equal(await client.recover("an older token", code), true, code);
    assert.equal(await client.recover("an older token", code, { replayed: true }), false, code);
  }
  assert.equal(client.accessToken(), pair.access);
  assert.deepEqual(events.filter((e) => e.type === "logout"), []);
  assert.equal((await serverCounts(pair.session_id)).refreshes, 0);
});
