/**
 * DPoP (RFC 9449) for the django-doubletoken browser client: the device's key and its proofs.
 *
 * - The key: one ECDSA P-256 pair made by WebCrypto with `extractable: false`, so no script
 *   (an XSS included) can read the private key; it can only ask the browser to sign with it
 *   while the page is open. It is kept in IndexedDB (CryptoKeys survive structured cloning
 *   there without ever being exported), so every tab of the browser profile and every reload
 *   uses the same key, which the server bound the session to at login.
 * - The proof: a JWT (`typ: dpop+jwt`, `alg: ES256`, the public `jwk` in its header) over the
 *   request's method (`htm`) and URL without query and fragment (`htu`), `iat`, a unique
 *   `jti`, `ath` (the SHA-256 of the access token sent with it) and the server's latest
 *   `DPoP-Nonce` for that host, when one is known.
 *
 * Used by doubletoken.js (`createClient({ dpop: true })`); no dependencies.
 */

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256" };
const SIGNATURE = { name: "ECDSA", hash: "SHA-256" };
const STORE = "keys";
const KEY_ID = "es256";
// Methods fetch() sends in upper case whatever their case in the call (Fetch standard,
// "normalize a method"); any other method goes out exactly as written.
const NORMALIZED_METHODS = new Set(["DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"]);

const encoder = new TextEncoder();

export function b64url(bytes) {
  let binary = "";
  for (const byte of new Uint8Array(bytes)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const b64json = (value) => b64url(encoder.encode(JSON.stringify(value)));

async function sha256(text) {
  return b64url(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

/** The method as fetch() puts it on the wire: the proof's `htm` must be exactly that. */
export function wireMethod(method = "GET") {
  const upper = method.toUpperCase();
  return NORMALIZED_METHODS.has(upper) ? upper : method;
}

/** `htu`: the absolute URL without query and fragment (RFC 9449 §4.2). */
export function proofTarget(url, base = globalThis.location?.href) {
  const target = new URL(url, base);
  target.search = "";
  target.hash = "";
  return target.href;
}

// --- where the key lives ------------------------------------------------------------------

function settle(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

const isKeyPair = (value) =>
  value?.privateKey?.type === "private" && value?.publicKey?.type === "public";

function generateKeyPair() {
  // extractable false: exportKey() of the private key throws, here and in every other script.
  return crypto.subtle.generateKey(ALGORITHM, false, ["sign", "verify"]);
}

/**
 * The key pair kept in IndexedDB database `database`: read, or made and stored once. Tabs
 * that start together may each make a pair, but the get-or-put runs in one read-write
 * transaction, and transactions on one store run one after another (across tabs too): the
 * first tab stores its pair, every other tab finds and uses that one.
 */
async function indexedDBKeyPair(database) {
  const opening = indexedDB.open(database, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore(STORE);
  const db = await settle(opening);
  try {
    const read = db.transaction(STORE, "readonly").objectStore(STORE).get(KEY_ID);
    const found = await settle(read);
    if (isKeyPair(found)) return found;
    // Made outside the transaction: one that waits for a promise commits itself meanwhile.
    const made = await generateKeyPair();
    return await new Promise((resolve, reject) => {
      const transaction = db.transaction(STORE, "readwrite");
      const store = transaction.objectStore(STORE);
      let kept = made;
      const again = store.get(KEY_ID);
      again.onsuccess = () => {
        if (isKeyPair(again.result)) kept = again.result;
        else store.put({ privateKey: made.privateKey, publicKey: made.publicKey }, KEY_ID);
      };
      transaction.oncomplete = () => resolve(kept);
      transaction.onerror = () => reject(transaction.error);
      transaction.onabort = () => reject(transaction.error);
    });
  } finally {
    db.close();
  }
}

// Where IndexedDB is missing (Node) or refuses (some private modes): one pair per name in
// this JavaScript context, shared by its clients as tabs share the IndexedDB one.
const memoryKeys = new Map();

/** The key pair named `name`, from IndexedDB when it works, else this context's memory. */
export async function storedKeyPair(name = "doubletoken") {
  const database = `${name}:dpop`;
  if (typeof globalThis.indexedDB?.open === "function") {
    try {
      return await indexedDBKeyPair(database);
    } catch {
      // fall through: a key that lives as long as this page is better than none
    }
  }
  if (!memoryKeys.has(database)) {
    const pending = generateKeyPair();
    memoryKeys.set(database, pending);
    pending.catch(() => memoryKeys.delete(database));
  }
  return memoryKeys.get(database);
}

// --- proofs ---------------------------------------------------------------------------------

/** The public JWK's RFC 7638 SHA-256 thumbprint: what the server binds the session to. */
export async function thumbprint(jwk) {
  const { crv, kty, x, y } = jwk; // required members only, in lexicographic order
  return sha256(JSON.stringify({ crv, kty, x, y }));
}

/**
 * Signs proofs with the key pair `keyPair()` resolves to (read once), and remembers the
 * servers' nonces (`DPoP-Nonce`) by host.
 */
export class DPoPProver {
  #keyPair;
  #loaded = null;
  #nonces = new Map();

  constructor(keyPair) {
    this.#keyPair = keyPair;
  }

  #load() {
    this.#loaded ??= (async () => {
      const pair = await this.#keyPair();
      const { crv, kty, x, y } = await crypto.subtle.exportKey("jwk", pair.publicKey);
      const jwk = { crv, kty, x, y };
      return { pair, jwk, thumbprint: await thumbprint(jwk) };
    })();
    this.#loaded.catch(() => {
      this.#loaded = null; // a failed load (storage hiccup) is tried again next time
    });
    return this.#loaded;
  }

  /** The key pair (its private key cannot be exported). */
  async keyPair() {
    return (await this.#load()).pair;
  }

  /** The public key's RFC 7638 thumbprint (the `cnf.jkt` of the tokens bound to it). */
  async thumbprint() {
    return (await this.#load()).thumbprint;
  }

  /** A response from `url` carried `DPoP-Nonce: value`: later proofs to that host use it. */
  rememberNonce(url, value) {
    if (!value) return false;
    const host = new URL(url, globalThis.location?.href).host;
    const changed = this.#nonces.get(host) !== value;
    this.#nonces.set(host, value);
    return changed;
  }

  nonceFor(url) {
    return this.#nonces.get(new URL(url, globalThis.location?.href).host) ?? null;
  }

  /**
   * A proof for one request: `method` and `url` as sent (htu drops query and fragment),
   * `accessToken` the token sent with it (`ath`), `now` the server's time in ms.
   */
  async proof({ method, url, accessToken = null, now = Date.now() }) {
    const { pair, jwk } = await this.#load();
    const header = { typ: "dpop+jwt", alg: "ES256", jwk };
    const claims = {
      jti: globalThis.crypto.randomUUID(),
      htm: wireMethod(method),
      htu: proofTarget(url),
      // A second early: the server's clock is known here to within a second (its Date
      // header), and a proof from its future is refused.
      iat: Math.floor(now / 1000) - 1,
    };
    if (accessToken) claims.ath = await sha256(accessToken);
    const nonce = this.nonceFor(url);
    if (nonce) claims.nonce = nonce;
    const input = `${b64json(header)}.${b64json(claims)}`;
    // WebCrypto's ECDSA signature is r || s, 64 bytes: exactly JWS ES256's (RFC 7518 §3.4).
    const signature = await crypto.subtle.sign(SIGNATURE, pair.privateKey, encoder.encode(input));
    return `${input}.${b64url(signature)}`;
  }
}
