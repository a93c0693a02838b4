/**
 * HTTP calls of the agent console: sign in, sign out, who am I.
 * URLs are resolved relative to this module, so the console keeps working
 * when the switchboard is published under a path prefix.
 * @module api
 */

const API_BASE = new URL('../api/v1/', import.meta.url);

/** An HTTP failure with a message a person can read (French). */
export class ApiError extends Error {
  /**
   * @param {string} message  plain-words explanation for the agent
   * @param {number} status   HTTP status, 0 when the server could not be reached
   */
  constructor(message, status) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

/**
 * @typedef {{username: string, display_name: string, services: string[],
 *   roles: ('agent'|'supervisor')[]}} AgentInfo
 * @typedef {{local: boolean, oidc_name: string|null, oidc_login_url: string|null}} AuthOptions
 */

async function request(method, path, body) {
  /** @type {RequestInit} */
  const init = {
    method,
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { Accept: 'application/json' },
  };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetch(new URL(path, API_BASE), init);
  } catch {
    throw new ApiError('Le serveur est injoignable. Vérifiez votre connexion réseau puis réessayez.', 0);
  }
}

function loginErrorText(status) {
  if (status === 401 || status === 403) return 'Identifiant ou mot de passe incorrect.';
  if (status === 400 || status === 422) return 'Veuillez saisir votre identifiant et votre mot de passe.';
  if (status === 429) return 'Trop de tentatives de connexion. Patientez quelques minutes avant de réessayer.';
  if (status >= 500) return 'Le serveur a rencontré un problème. Réessayez dans un instant.';
  return `La connexion a échoué (erreur ${status}).`;
}

/**
 * Sign in; on success the server sets the session cookie.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<AgentInfo>}
 * @throws {ApiError}
 */
export async function login(username, password) {
  const res = await request('POST', 'agent/login', { username, password });
  if (!res.ok) throw new ApiError(loginErrorText(res.status), res.status);
  return /** @type {Promise<AgentInfo>} */ (res.json());
}

/**
 * End the session (best effort: the console signs out locally anyway).
 * @returns {Promise<void>}
 */
export async function logout() {
  try {
    await request('POST', 'agent/logout');
  } catch {
    // Already unreachable: nothing more to do, the cookie dies with the session.
  }
}

/**
 * The signed-in agent, or null when there is no valid session.
 * @returns {Promise<AgentInfo|null>}
 * @throws {ApiError} when the server cannot be reached or fails
 */
export async function me() {
  const res = await request('GET', 'agent/me');
  if (res.status === 401 || res.status === 403) return null;
  if (!res.ok) throw new ApiError(loginErrorText(res.status), res.status);
  return /** @type {Promise<AgentInfo>} */ (res.json());
}

/**
 * How one may sign in here: local form, identity provider (OpenID Connect), or both.
 * Falls back to the local form alone when the server cannot say.
 * @returns {Promise<AuthOptions>}
 */
export async function authOptions() {
  try {
    const res = await request('GET', 'auth/options');
    if (res.ok) return /** @type {Promise<AuthOptions>} */ (res.json());
  } catch {
    // Unreachable: the sign-in form says so when used.
  }
  return { local: true, oidc_name: null, oidc_login_url: null };
}

/**
 * Where a signed-in person belongs: the agent desk, or the read-only supervisor view.
 * @param {AgentInfo} person
 * @returns {boolean}
 */
export function isSupervisorOnly(person) {
  const roles = person.roles || ['agent'];
  return !roles.includes('agent') && roles.includes('supervisor');
}

/**
 * Tell the audit trail that device work of a call ended (docs/protocol.md, "Audit of
 * device work"). Only metadata: kind, outcome, error code, page count; never what was
 * read, scanned or printed. Best effort: a lost report is logged by the server's absence.
 * @param {{call_id: string, request_id: string, kind: string, outcome: string,
 *   error?: string, pages?: number}} report
 * @returns {Promise<boolean>} whether the server recorded it
 */
export async function reportDeviceWork(report) {
  try {
    const res = await request('POST', 'agent/audit', report);
    return res.ok;
  } catch {
    return false;
  }
}
