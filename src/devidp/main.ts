// CLI entry for the development OpenID Provider (used by docker-compose).
//
// Environment:
//   DEVIDP_PORT                      port to bind (default 9000; 0 = free port)
//   DEVIDP_HOST                      interface to bind (default 127.0.0.1; use 0.0.0.0 in a container)
//   DEVIDP_ISSUER                    public issuer URL (default http://HOST:PORT)
//   DEVIDP_CLIENT_ID                 (default gatehouse)
//   DEVIDP_CLIENT_SECRET             (default gatehouse-secret)
//   DEVIDP_REDIRECT_URI              comma-separated (default http://127.0.0.1:8080/oauth2/callback)
//   DEVIDP_POST_LOGOUT_REDIRECT_URI  comma-separated (optional)
//   DEVIDP_BACKCHANNEL_LOGOUT_URI    (optional)
//   DEVIDP_TOKEN_ENDPOINT_AUTH_METHOD  client_secret_basic (default) | client_secret_post
import { DEMO_USERS, startDevIdp } from './provider.js';
import type { DevClient } from './provider.js';

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

async function main(): Promise<void> {
  const env = process.env;
  const port = env['DEVIDP_PORT'] !== undefined && env['DEVIDP_PORT'] !== '' ? Number(env['DEVIDP_PORT']) : 9000;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid DEVIDP_PORT: ${env['DEVIDP_PORT']}`);
  }
  const authMethod = env['DEVIDP_TOKEN_ENDPOINT_AUTH_METHOD'] ?? 'client_secret_basic';
  if (authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') {
    throw new Error(`invalid DEVIDP_TOKEN_ENDPOINT_AUTH_METHOD: ${authMethod}`);
  }
  const redirectUris = list(env['DEVIDP_REDIRECT_URI']);
  const client: DevClient = {
    client_id: env['DEVIDP_CLIENT_ID'] || 'gatehouse',
    client_secret: env['DEVIDP_CLIENT_SECRET'] || 'gatehouse-secret',
    redirect_uris: redirectUris.length ? redirectUris : ['http://127.0.0.1:8080/oauth2/callback'],
    post_logout_redirect_uris: list(env['DEVIDP_POST_LOGOUT_REDIRECT_URI']),
    token_endpoint_auth_method: authMethod,
    ...(env['DEVIDP_BACKCHANNEL_LOGOUT_URI'] ? { backchannel_logout_uri: env['DEVIDP_BACKCHANNEL_LOGOUT_URI'] } : {}),
  };

  const idp = await startDevIdp({
    host: env['DEVIDP_HOST'] || '127.0.0.1',
    port,
    ...(env['DEVIDP_ISSUER'] ? { issuer: env['DEVIDP_ISSUER'] } : {}),
    users: DEMO_USERS,
    clients: [client],
  });

  console.log(`dev IdP issuer: ${idp.issuer}`);
  console.log(`discovery: ${idp.issuer}/.well-known/openid-configuration`);
  console.log(`client: ${client.client_id} redirect_uris=${client.redirect_uris.join(',')}`);
  console.log(`users: ${DEMO_USERS.map((u) => `${u.id}/${u.password}`).join(', ')}`);

  const shutdown = (signal: string) => {
    console.log(`received ${signal}, shutting down`);
    idp.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
