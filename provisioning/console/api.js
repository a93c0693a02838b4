/**
 * HTTP calls of the admin console (``/api/v1/admin``). URLs are resolved relative to
 * this module, so the console keeps working under a path prefix.
 * @module api
 */

const API_BASE = new URL('../api/v1/admin/', import.meta.url);

/** An HTTP failure with a message a person can read (French), and the server's detail. */
export class ApiError extends Error {
  /**
   * @param {string} message
   * @param {number} status  0 when the server could not be reached
   * @param {any} [detail]   the ``detail`` of the error body, when there is one
   */
  constructor(message, status, detail) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.detail = detail;
  }
}

function errorText(status) {
  if (status === 401) return 'Votre session a expiré : reconnectez-vous.';
  if (status === 403) return 'Cette action est réservée aux administrateurs.';
  if (status === 404) return 'Élément introuvable.';
  if (status === 409) return 'Action impossible dans l’état actuel.';
  if (status === 422) return 'Les valeurs saisies ne sont pas valides.';
  if (status >= 500) return 'Le serveur a rencontré un problème. Réessayez dans un instant.';
  return `La requête a échoué (erreur ${status}).`;
}

/**
 * @param {string} method
 * @param {string} path    relative to /api/v1/admin/
 * @param {any} [body]
 * @returns {Promise<any>}  the JSON answer (null for 204)
 * @throws {ApiError}
 */
export async function call(method, path, body) {
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
  let res;
  try {
    res = await fetch(new URL(path, API_BASE), init);
  } catch {
    throw new ApiError('Le serveur est injoignable. Vérifiez votre connexion réseau puis réessayez.', 0);
  }
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (!res.ok) throw new ApiError(errorText(res.status), res.status, data && data.detail);
  return data;
}

/** Sign in; the server sets the admin session cookie. */
export async function login(username, password) {
  try {
    return await call('POST', 'login', { username, password });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 422)) {
      throw new ApiError(err.status === 401
        ? 'Identifiant ou mot de passe incorrect.'
        : 'Veuillez saisir votre identifiant et votre mot de passe.', err.status);
    }
    throw err;
  }
}

/** The signed-in staff member, or null without a valid session. */
export async function me() {
  try {
    return await call('GET', 'me');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function logout() {
  try {
    await call('POST', 'logout');
  } catch {
    // Unreachable: the cookie dies with its session anyway.
  }
}
