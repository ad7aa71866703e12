// Types for doubletoken.js, the django-doubletoken browser client.

/** What the client stores: one value, so access and refresh tokens change together. */
export interface TokenRecord {
  access: string;
  /** null with the cookie transport (the refresh token is in an HttpOnly cookie). */
  refresh: string | null;
  /** "DPoP": bound to this browser's DPoP key (sent with proofs); absent in older records. */
  tokenType?: "Bearer" | "DPoP";
  sessionId: string;
  /** Server time, ms since the epoch. */
  accessExpiresAt: number;
  refreshExpiresAt: number;
  /** Server clock minus local clock, ms (from the Date header). */
  clockOffset: number;
}

/**
 * Where tokens live. Must be synchronous: the client reads and writes it in one task.
 * `shared`: every tab of the origin sees the same value (localStorage).
 */
export interface TokenStorage {
  shared: boolean;
  get(): TokenRecord | null;
  set(record: TokenRecord | null): void;
  /** For storage events: the Web Storage area and key holding the value, if any. */
  area?: Storage;
  key?: string;
}

export function memoryStorage(): TokenStorage;
export function webStorage(area: Storage, key?: string): TokenStorage;

export interface ClientOptions {
  /** Where login/, refresh/, logout/... live. Default "/api/auth/". */
  authURL?: string | URL;
  /** "memory" (default: this tab only), "local", "session", or your own storage. */
  storage?: "memory" | "local" | "session" | TokenStorage;
  /** Called once when the session ends: the reason is a server code, "logout", "other-tab"... */
  onLogout?: (reason: LogoutReason) => void;
  /** Refresh this many seconds before the access token expires (server time). 0: off. */
  refreshBeforeExpiry?: number;
  /** Names the storage key, the lock and the BroadcastChannel. Default "doubletoken". */
  name?: string;
  /** The sliding middleware's header. Default "NEW_HTTP_AUTHORIZATION". */
  headerName?: string;
  /** credentials for the client's own auth calls. Default "same-origin". */
  credentials?: RequestCredentials;
  /** Cookie transport: the CSRF cookie and header. Default "csrftoken", "X-CSRFToken". */
  csrfCookieName?: string;
  csrfHeaderName?: string;
  /** Give up on a refresh request after this many ms. Default 20000. */
  refreshTimeout?: number;
  /** A fetch to use instead of the global one. */
  fetch?: typeof fetch;
  /** A cross-tab mutex for platforms without Web Locks: run `callback` exclusively. */
  lock?: <T>(name: string, callback: () => Promise<T>) => Promise<T>;
  /** The local clock (tests). Default Date.now. */
  now?: () => number;
  /**
   * DPoP (RFC 9449): bind the session to a key of this browser profile. `true`: a
   * non-extractable ES256 (P-256) key made once by WebCrypto and kept in IndexedDB (database
   * "<name>:dpop"), shared by every tab and reload; `keyPair`: your own (e.g. tests, or a
   * platform without IndexedDB). A proof goes with login/ and refresh/, and with every request
   * of a session the server bound (`token_type` "DPoP"), which then sends
   * `Authorization: DPoP <access>`. Default off.
   */
  dpop?: boolean | DPoPOptions;
  /**
   * Step-up (RFC 9470): a request refused with 401 insufficient_user_authentication calls
   * this, once for every request and tab that hits a guard meanwhile; resolve once the user
   * has re-authenticated (`client.reauthenticate(password)`), reject (or resolve without it)
   * to give up. The refused requests are then replayed once. Without it they are returned.
   */
  onStepUp?: (challenge: StepUpChallenge) => void | Promise<void>;
}

export interface DPoPOptions {
  /** The key pair to sign proofs with (ES256: ECDSA P-256). Default: the IndexedDB one. */
  keyPair?: () => Promise<CryptoKeyPair>;
}

/** What the guard asked for (null: not asked). */
export interface StepUpChallenge {
  /** Seconds: the user must have authenticated at most this long ago. */
  maxAge: number | null;
  /** Acceptable authentication context classes (RFC 9470 `acr_values`, split on spaces). */
  acrValues: string[] | null;
}

export type LogoutReason =
  | "logout"
  | "logout-all"
  | "other-tab"
  | "token_invalid"
  | "session_revoked"
  | "session_expired"
  | "refresh_reused"
  | (string & {});

export interface Credentials {
  username: string;
  password: string;
  device?: string;
  /** Client profile ("web", "mobile"). */
  client?: string;
}

export interface TokenPair {
  access: string;
  /** Absent with the cookie transport. */
  refresh?: string;
  /** "DPoP" when the session is bound to the proof's key. */
  token_type: "Bearer" | "DPoP";
  access_expires_at: string;
  refresh_expires_at: string;
  session_id: string;
}

export interface DeviceSession {
  id: string;
  client: string;
  device: string;
  ip: string | null;
  user_agent: string;
  created_at: string;
  last_used_at: string;
  current: boolean;
}

export interface ClientEventMap {
  login: CustomEvent<{ sessionId: string; source: "this-tab" | "other-tab" }>;
  refresh: CustomEvent<{ sessionId: string; reason: string }>;
  slide: CustomEvent<{ sessionId: string }>;
  tokens: CustomEvent<{ sessionId: string; source: "other-tab" }>;
  reauthenticate: CustomEvent<{ sessionId: string }>;
  logout: CustomEvent<{ reason: LogoutReason }>;
}

export class DoubleTokenClient extends EventTarget {
  constructor(options?: ClientOptions);
  readonly headerName: string;

  /** fetch with the access token; one shared refresh and one replay on 401 token_expired / token_revoked (README, "Extending"). */
  fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
  login(credentials: Credentials): Promise<TokenPair>;
  logout(): Promise<void>;
  logoutAll(): Promise<void>;
  /** POST logout-others/: every other device of the user is logged out, this one stays. */
  logoutOthers(): Promise<boolean>;
  /**
   * POST reauthenticate/ with `{password}` (or your verifier's body): a new pair with a fresh
   * `auth_time` for this same session. Rejects with LoginError; the tokens are then kept.
   */
  reauthenticate(password: string | Record<string, unknown>): Promise<TokenPair>;
  /**
   * For other HTTP libraries: a request sent with `sent` got 401
   * insufficient_user_authentication. True: replay it with accessToken() (re-authenticated
   * meanwhile, here through onStepUp or in another tab). `sentAt` (Date.now() when it was
   * sent): a request sent before the user declined a step-up is not asked about again.
   */
  stepUp(sent: string | null | undefined, challenge?: Partial<StepUpChallenge>,
         options?: { sentAt?: number }): Promise<boolean>;
  /** Cookie transport: get an access token from the refresh cookie at page load. */
  resume(): Promise<boolean>;
  sessions(): Promise<DeviceSession[]>;
  revokeSession(id: string): Promise<boolean>;
  /** A WebSocket authenticated for django_doubletoken.channels; see openSocket(). */
  openSocket(url: string | URL, options?: SocketOptions): WebSocket;
  /** The same for every session, DPoP-bound ones included; see connectSocket(). */
  connectSocket(url: string | URL, options?: SocketOptions): Promise<WebSocket>;

  accessToken(): string | null;
  isAuthenticated(): boolean;
  /** True when the tokens are bound to this browser's DPoP key. */
  isBound(): boolean;
  /** The RFC 7638 thumbprint of the DPoP key (a bound token's `cnf.jkt`); null without dpop. */
  dpopThumbprint(): Promise<string | null>;
  /** The DPoP key pair (the private key is not extractable); null without dpop. */
  dpopKeyPair(): Promise<CryptoKeyPair | null>;
  sessionId(): string | null;
  /** The server's clock as best known here, ms since the epoch. */
  serverNow(): number;
  /** Ms the access token has left by the server's clock (negative once expired). */
  expiresIn(): number;

  /** For other HTTP libraries: a response's NEW_HTTP_AUTHORIZATION value for a request sent with `sent`. */
  pickUpHeader(
    value: string | null | undefined,
    sent: string | null | undefined,
    date?: string | null | { header: string | null; sentAt?: number },
  ): boolean;
  /**
   * For other HTTP libraries: a request sent with `sent` got a 401 with `code`. True: replay
   * it with accessToken(). With `replayed`, never refreshes (it may still log out).
   */
  recover(sent: string | null | undefined, code: string | undefined,
          options?: { replayed?: boolean }): Promise<boolean>;
  /**
   * For other HTTP libraries: the headers for a `method` request to `url` — Authorization
   * (Bearer, or DPoP with a fresh `DPoP` proof for a bound session) — and the token sent.
   */
  authorize(method: string, url: string | URL): Promise<{
    token: string | null;
    headers: { Authorization?: string; DPoP?: string };
  }>;
  /** For other HTTP libraries: a response's DPoP-Nonce header; true when it is new. */
  pickUpNonce(url: string | URL, value: string | null | undefined): boolean;
  close(): void;

  addEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof ClientEventMap>(
    type: K,
    listener: (event: ClientEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

export function createClient(options?: ClientOptions): DoubleTokenClient;

export interface SocketOptions {
  /** The application's own subprotocols, offered after the token. */
  protocols?: string[];
  /** Seconds before the socket's token expires to refresh, if no newer token came (5). */
  renewBefore?: number;
}

/**
 * A WebSocket with the access token in Sec-WebSocket-Protocol, kept authenticated by sending
 * each new token over it; closes for a finished session (4001, 4004-4006) log the client out.
 * Throws for a DPoP-bound session (its handshake needs a proof): use connectSocket().
 */
export function openSocket(client: DoubleTokenClient, url: string | URL,
                           options?: SocketOptions): WebSocket;

/**
 * openSocket() for every session: a DPoP-bound one offers
 * `["doubletoken", access, "doubletoken.dpop", proof, ...protocols]` (proof: `htm` GET, `htu`
 * the ws(s) URL without query) and sends each new token with a fresh proof as `dpop`.
 */
export function connectSocket(client: DoubleTokenClient, url: string | URL,
                              options?: SocketOptions): Promise<WebSocket>;

/** What a client does about an error code (django_doubletoken.errors.ACTIONS). */
export type ErrorAction =
  | "refresh" | "use_newer_token" | "login" | "retry" | "fix_request" | "step_up";

/** Every error code the server answers with: what the client does, and the WebSocket close
 * code of those that close a socket (null: never). */
export const ERROR_CODES: Readonly<Record<string, Readonly<{
  action: ErrorAction;
  closeCode: number | null;
}>>>;

/** django_doubletoken.channels close codes; the close reason is the error code. */
export const SOCKET_CLOSE_CODES: Readonly<{
  not_authenticated: 4000;
  token_invalid: 4001;
  token_expired: 4002;
  token_revoked: 4003;
  session_revoked: 4004;
  session_expired: 4005;
  refresh_reused: 4006;
  invalid_dpop_proof: 4007;
  use_dpop_nonce: 4008;
  insufficient_user_authentication: 4009;
  cache_unavailable: 1013;
  database_unavailable: 1013;
}>;

/** A refresh could not be done now (network, 5xx, 429): the tokens are kept. */
export class RefreshUnavailableError extends Error {
  /** 0 for a network error. */
  status: number;
  /** The server's code ("cache_unavailable"), "network_error" or "http_<status>". */
  code: string;
}

export class LoginError extends Error {
  status: number;
  code: string;
}
