// A real OpenID Connect provider (npm oidc-provider 8) for Guichet's tests, on 127.0.0.1 only.
//
// Usage: node provider.mjs CONFIG.json
// CONFIG: {"port": N, "clients": [{client_id, client_secret?, redirect_uris}],
//          "users": {"<login>": {claims...}}}
// Prints "ready <issuer>" on stdout once it listens. PKCE is required for every client;
// the development login form (devInteractions) accepts any password; consent is implied
// (a first-party client). Its pages import a web font: tests block outside requests.
import { readFileSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const users = config.users;

// A fresh signing key per run: nothing secret is committed, and a test that caches
// keys across runs would fail.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: config.clients.map((c) => ({
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: c.client_secret ? 'client_secret_basic' : 'none',
    ...c,
  })),
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  // HS256 is enabled only so that a test can configure a client whose ID tokens are
  // HMAC-signed, which Guichet must refuse.
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256', 'HS256'] },
  features: { devInteractions: { enabled: true } },
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    guichet: ['guichet_roles', 'guichet_services'],
  },
  // Claims of the requested scopes go into the ID token as well as userinfo.
  conformIdTokenClaims: false,
  ttl: { AuthorizationCode: 60, IdToken: 300, AccessToken: 300, Interaction: 600, Session: 3600, Grant: 3600 },
  async findAccount(_ctx, sub) {
    if (!Object.hasOwn(users, sub)) return undefined;
    return {
      accountId: sub,
      async claims() {
        return { sub, preferred_username: sub, ...users[sub] };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // First-party client: grant what it asks for, no consent screen.
    const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
    grant.addOIDCScope(ctx.oidc.requestParamScopes ? [...ctx.oidc.requestParamScopes].join(' ') : 'openid');
    await grant.save();
    return grant;
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><title>oidc error</title><p id="error">${out.error}</p>`;
  },
});
provider.on('server_error', (_ctx, err) => console.error('server_error', err));

provider.listen(config.port, '127.0.0.1', () => {
  process.stdout.write(`ready ${issuer}\n`);
});
