/**
 * axios interceptors for a django-doubletoken client: the same semantics as `client.fetch`
 * (Bearer header, NEW_HTTP_AUTHORIZATION pick-up, one shared refresh on 401 token_expired,
 * each request replayed at most once). Does not import axios: pass your instance.
 *
 *   import { createClient } from "./doubletoken.js";
 *   import { attachAxios } from "./doubletoken-axios.js";
 *   const auth = createClient({ storage: "local" });
 *   const api = axios.create({ baseURL: "/api/" });
 *   attachAxios(api, auth);
 */

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

function errorCode(data) {
  if (typeof data === "string") {
    try {
      data = JSON.parse(data);
    } catch {
      return undefined;
    }
  }
  return typeof data?.code === "string" ? data.code : undefined;
}

/** Adds the interceptors to `instance`; returns a function that removes them. */
export function attachAxios(instance, client) {
  const request = instance.interceptors.request.use((config) => {
    const sent = client.accessToken();
    config.headers = config.headers ?? {};
    if (sent) setHeader(config.headers, "Authorization", `Bearer ${sent}`);
    config[STATE] = { ...config[STATE], sent };
    return config;
  });

  const response = instance.interceptors.response.use(
    (result) => {
      const header = getHeader(result.headers, client.headerName);
      client.pickUpHeader(header, result.config?.[STATE]?.sent, getHeader(result.headers, "Date"));
      return result;
    },
    async (error) => {
      const config = error?.config;
      const state = config?.[STATE];
      if (error?.response?.status !== 401 || !state) throw error;
      const code = errorCode(error.response.data);
      const replay = await client.recover(state.sent, code, { replayed: Boolean(state.replayed) });
      if (!replay) throw error;
      config[STATE] = { ...state, replayed: true };
      return instance.request(config); // the request interceptor sets the new token
    },
  );

  return () => {
    instance.interceptors.request.eject(request);
    instance.interceptors.response.eject(response);
  };
}
