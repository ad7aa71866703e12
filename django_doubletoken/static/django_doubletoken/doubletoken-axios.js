/**
 * axios interceptors for a django-doubletoken client: the same semantics as `client.fetch`
 * (Bearer header, or DPoP header and proof for a bound session; NEW_HTTP_AUTHORIZATION
 * pick-up; one shared refresh on 401 token_expired, one step-up on
 * insufficient_user_authentication, one more try with the server's DPoP nonce; each request
 * replayed at most once for each). Does not import axios: pass your instance.
 *
 *   import { createClient } from "./doubletoken.js";
 *   import { attachAxios } from "./doubletoken-axios.js";
 *   const auth = createClient({ storage: "local" });
 *   const api = axios.create({ baseURL: "/api/" });
 *   attachAxios(api, auth);
 */

import { ERROR_CODES } from "./doubletoken.js";

// axios copies unknown config keys onto the config of the response and of the replay.
const STATE = "doubletoken";

function setHeader(headers, name, value) {
  if (typeof headers.set === "function") headers.set(name, value);
  else headers[name] = value;
}

function getHeader(headers, name) {
  if (!headers) return null;
  if (typeof headers.get === "function") return headers.get(name) ?? null;
  return headers[name.toLowerCase()] ?? headers[name] ?? null;
}

function errorBody(data) {
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      return {};
    }
  }
  return data && typeof data === "object" ? data : {};
}

/** The URL the request goes to (the proof's htu drops the query). */
function targetOf(instance, config) {
  if (typeof instance.getUri === "function") return instance.getUri(config);
  return new URL(config.url ?? "", config.baseURL ?? globalThis.location?.href).href;
}

async function cure(client, error, state) {
  const { status, headers, data } = error.response;
  const body = errorBody(data);
  const nonce = getHeader(headers, "DPoP-Nonce");
  if (body.code === "use_dpop_nonce") return nonce && !state.nonceRetried && { nonceRetried: true };
  if (status !== 401) return false;
  if (ERROR_CODES[body.code]?.action === "step_up") {
    if (state.steppedUp) return false;
    const challenge = {
      maxAge: typeof body.max_age === "number" ? body.max_age : null,
      acrValues: typeof body.acr_values === "string" ? body.acr_values.split(" ") : null,
    };
    const stepped = await client.stepUp(state.sent, challenge, { sentAt: state.sentAt });
    return stepped && { steppedUp: true };
  }
  const replay = await client.recover(state.sent, body.code, { replayed: Boolean(state.replayed) });
  return replay && { replayed: true };
}

/** Adds the interceptors to `instance`; returns a function that removes them. */
export function attachAxios(instance, client) {
  const request = instance.interceptors.request.use(async (config) => {
    const url = targetOf(instance, config);
    // axios sends every method in upper case (fetch only the six standard ones).
    const method = (config.method ?? "get").toUpperCase();
    const { token: sent, headers } = await client.authorize(method, url);
    config.headers = config.headers ?? {};
    for (const [name, value] of Object.entries(headers)) setHeader(config.headers, name, value);
    config[STATE] = { ...config[STATE], sent, url, sentAt: Date.now() };
    return config;
  });

  const response = instance.interceptors.response.use(
    (result) => {
      const state = result.config?.[STATE];
      if (state) client.pickUpNonce(state.url, getHeader(result.headers, "DPoP-Nonce"));
      const header = getHeader(result.headers, client.headerName);
      client.pickUpHeader(header, state?.sent, getHeader(result.headers, "Date"));
      return result;
    },
    async (error) => {
      const config = error?.config;
      const state = config?.[STATE];
      const status = error?.response?.status;
      if ((status !== 401 && status !== 400) || !state) throw error;
      client.pickUpNonce(state.url, getHeader(error.response.headers, "DPoP-Nonce"));
      const replay = await cure(client, error, state);
      if (!replay) throw error;
      config[STATE] = { ...state, ...replay };
      return instance.request(config); // the request interceptor sets the new token and proof
    },
  );

  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
