// Embedded development OpenID Provider built on `oidc-provider` v9.
//
// It is meant for local development, docker-compose demos and integration
// tests: in-memory storage, keys generated at start-up, a plain HTML login
// form that checks username + password against a static user list, and
// automatic consent. Never expose it to untrusted networks.
/// <reference path="./oidc-provider.d.ts" />
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import type {
  Account,
  Adapter,
  AdapterPayload,
  ClientMetadata,
  Configuration,
  Interaction,
  InteractionResults,
  KoaContextWithOIDC,
} from 'oidc-provider';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';

export interface DevUser {
  id: string;
  password: string;
  name: string;
  email: string;
  groups: string[];
  roles: string[];
  /** Authentication methods references put in the ID token; default ['pwd']. */
  amr?: string[];
  /** Extra claims; they are released in the ID token and from userinfo. */
  extraClaims?: Record<string, unknown>;
}

export interface DevClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  post_logout_redirect_uris?: string[];
  token_endpoint_auth_method?: 'client_secret_basic' | 'client_secret_post';
  /** OpenID Connect Back-Channel Logout endpoint of the RP (optional). */
  backchannel_logout_uri?: string;
  backchannel_logout_session_required?: boolean;
}

export interface DevIdpOptions {
  /** Interface to bind; default 127.0.0.1. */
  host?: string;
  /** Port to bind; 0 (default) picks a free port. */
  port?: number;
  /**
   * Public issuer URL. Default: http://HOST:BOUND_PORT. Only needed when the
   * IdP is reached under another name than the bind address (e.g. docker).
   */
  issuer?: string;
  users: DevUser[];
  clients: DevClient[];
  /** Access token lifetime; default 600 s. */
  accessTokenTtlSeconds?: number;
  /** ID token lifetime; default 3600 s. */
  idTokenTtlSeconds?: number;
  /** Keys used to sign the IdP's cookies; random by default. */
  cookieKeys?: string[];
}

export interface DevIdp {
  /** http://127.0.0.1:PORT (no trailing slash). */
  issuer: string;
  provider: Provider;
  close(): Promise<void>;
  /**
   * Signs a JWT with one of the IdP's own keys (its RS256 key unless `kid`
   * names another), so tests can mint tokens the IdP would issue, e.g.
   * logout tokens, or subtly wrong ones. `header` adds protected header members.
   */
  signJwt(payload: JWTPayload, header?: Record<string, unknown>): Promise<string>;
  /** Count of successful token endpoint grants, by grant type (for tests). */
  grants: { authorization_code: number; refresh_token: number };
  /**
   * Adds a Koa middleware around the provider's own handling, in the order
   * added, so tests can see or alter what the IdP answers (e.g. swap the ID
   * token of a token response for a forged one).
   */
  use(middleware: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>): void;
}

export const DEMO_USERS: DevUser[] = [
  {
    id: 'alice',
    password: 'alice-pass',
    name: 'Alice Admin',
    email: 'alice@example.test',
    groups: ['admins', 'staff'],
    roles: ['App.Admin'],
    amr: ['pwd', 'mfa'],
  },
  {
    id: 'bob',
    password: 'bob-pass',
    name: 'Bob Staff',
    email: 'bob@example.test',
    groups: ['staff'],
    roles: [],
    amr: ['pwd'],
  },
];

/** Cookie names are prefixed so they never clash with an RP on the same host. */
const COOKIE_NAMES = {
  session: 'devidp_session',
  interaction: 'devidp_interaction',
  resume: 'devidp_resume',
} as const;

/** Scopes (and the claims they release) recognised by the dev IdP. */
function claimsConfiguration(users: DevUser[]): Record<string, string[] | null> {
  const extra = new Set<string>();
  for (const user of users) {
    for (const key of Object.keys(user.extraClaims ?? {})) extra.add(key);
  }
  return {
    // groups, roles and amr are released with plain `openid` so every RP gets
    // them in the ID token without having to know about custom scopes.
    openid: ['sub', 'groups', 'roles', 'amr', ...extra],
    profile: ['name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    roles: ['roles'],
    sid: null,
    auth_time: null,
    iss: null,
  };
}

function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;padding:40px 16px}
main{max-width:340px;margin:0 auto;background:#fff;border-radius:6px;padding:24px;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.3em;margin-top:0}label{display:block;margin:12px 0 4px}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;font-size:1em}
button{margin-top:16px;padding:8px 14px;font-size:1em;cursor:pointer}
.error{color:#b00020}.muted{color:#666;font-size:.9em}
</style>
</head>
<body><main>
${body}
</main></body>
</html>`;
}

/**
 * In-memory storage adapter. The bundled MemoryAdapter prints a warning for
 * every Provider instance and is a size-bounded LRU shared per process; this
 * one is per-instance and unbounded (expired entries are swept lazily).
 */
function createAdapterFactory(clockToleranceSeconds: number): (name: string) => Adapter {
  interface Entry { payload: AdapterPayload; expiresAt: number }
  const store = new Map<string, Entry>();
  const grantIndex = new Map<string, Set<string>>();
  const uidIndex = new Map<string, string>();
  const userCodeIndex = new Map<string, string>();
  const grantable = new Set([
    'AccessToken',
    'AuthorizationCode',
    'RefreshToken',
    'DeviceCode',
    'BackchannelAuthenticationRequest',
    'PreAuthorizedCode',
  ]);
  let writes = 0;

  const live = (key: string): Entry | undefined => {
    const entry = store.get(key);
    if (entry && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry;
  };
  const sweep = (): void => {
    const now = Date.now();
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key);
  };

  return (model: string): Adapter => {
    const key = (id: string) => `${model}:${id}`;
    const find = async (id: string | undefined) => {
      if (id === undefined) return undefined;
      const entry = live(key(id));
      return entry ? structuredClone(entry.payload) : undefined;
    };
    return {
      async upsert(id, payload, expiresIn) {
        if (++writes % 500 === 0) sweep();
        const expiresAt = typeof expiresIn === 'number'
          ? Date.now() + (expiresIn + clockToleranceSeconds) * 1000
          : Number.POSITIVE_INFINITY;
        store.set(key(id), { payload: structuredClone(payload), expiresAt });
        if (model === 'Session' && typeof payload.uid === 'string') uidIndex.set(payload.uid, id);
        if (typeof payload.userCode === 'string') userCodeIndex.set(payload.userCode, id);
        if (grantable.has(model) && typeof payload.grantId === 'string') {
          let members = grantIndex.get(payload.grantId);
          if (!members) grantIndex.set(payload.grantId, (members = new Set()));
          members.add(key(id));
        }
      },
      find,
      async findByUid(uid) {
        return find(uidIndex.get(uid));
      },
      async findByUserCode(userCode) {
        return find(userCodeIndex.get(userCode));
      },
      async consume(id) {
        const entry = live(key(id));
        if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
      },
      async destroy(id) {
        const entry = store.get(key(id));
        store.delete(key(id));
        if (entry?.payload.uid !== undefined && uidIndex.get(entry.payload.uid) === id) {
          uidIndex.delete(entry.payload.uid);
        }
      },
      async revokeByGrantId(grantId) {
        for (const member of grantIndex.get(grantId) ?? []) store.delete(member);
        grantIndex.delete(grantId);
      },
    };
  };
}

async function readForm(req: http.IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > 64 * 1024) throw new Error('request body too large');
    chunks.push(buf);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res: http.ServerResponse, status: number, html: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

function renderLogin(interaction: Interaction, opts: { error?: string; login?: string } = {}): string {
  const uid = escapeHtml(interaction.uid);
  const clientId = escapeHtml(interaction.params.client_id);
  const login = escapeHtml(opts.login ?? interaction.params.login_hint ?? '');
  const error = opts.error ? `<p class="error" role="alert">${escapeHtml(opts.error)}</p>` : '';
  return page('Sign in - Dev IdP', `<h1>Sign in</h1>
<p class="muted">to continue to <strong>${clientId}</strong></p>
${error}
<form method="post" action="/interaction/${uid}/login" autocomplete="off">
<label for="login">Username</label>
<input type="text" id="login" name="login" value="${login}" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" required>
<button type="submit" name="action" value="login">Sign in</button>
<button type="submit" name="cancel" value="cancel" formnovalidate>Cancel</button>
</form>`);
}

async function generateJwks(): Promise<{ keys: Array<Record<string, unknown>> }> {
  const rsa = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const suffix = randomBytes(4).toString('hex');
  return {
    keys: [
      { ...(await exportJWK(rsa.privateKey)), kid: `devidp-rs256-${suffix}`, alg: 'RS256', use: 'sig' },
      { ...(await exportJWK(ec.privateKey)), kid: `devidp-es256-${suffix}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function formatHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

export async function startDevIdp(opts: DevIdpOptions): Promise<DevIdp> {
  const host = opts.host ?? '127.0.0.1';
  const users = new Map(opts.users.map((u) => [u.id, u]));
  const grants = { authorization_code: 0, refresh_token: 0 };

  // 1. Bind first so the issuer can carry the real port.
  let handler: http.RequestListener = (_req, res) => {
    res.statusCode = 503;
    res.end('starting');
  };
  const server = http.createServer((req, res) => handler(req, res));
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const issuer = (opts.issuer ?? `http://${formatHost(host)}:${port}`).replace(/\/+$/, '');

  try {
    const jwks = await generateJwks();
    const claims = claimsConfiguration(opts.users);
    const knownScopes = new Set(['openid', 'offline_access', ...Object.keys(claims).filter((k) => claims[k] !== null)]);

    const clients: ClientMetadata[] = opts.clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      post_logout_redirect_uris: c.post_logout_redirect_uris ?? [],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: c.token_endpoint_auth_method ?? 'client_secret_basic',
      // always put auth_time in ID tokens (handy for max-age style policies)
      require_auth_time: true,
      ...(c.backchannel_logout_uri
        ? {
            backchannel_logout_uri: c.backchannel_logout_uri,
            // oidc-provider only puts `sid` in ID tokens for such clients
            backchannel_logout_session_required: c.backchannel_logout_session_required ?? true,
          }
        : {}),
    }));

    const findAccount = (_ctx: KoaContextWithOIDC, sub: string): Account | undefined => {
      const user = users.get(sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        claims: () => ({
          ...user.extraClaims,
          sub: user.id,
          name: user.name,
          email: user.email,
          email_verified: true,
          groups: [...user.groups],
          roles: [...user.roles],
          amr: user.amr ?? ['pwd'],
        }),
      };
    };

    const configuration: Configuration = {
      adapter: createAdapterFactory(15),
      clients,
      claims,
      clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
      conformIdTokenClaims: false,
      cookies: {
        names: { ...COOKIE_NAMES },
        keys: opts.cookieKeys?.length ? opts.cookieKeys : [randomBytes(32).toString('base64url')],
      },
      findAccount,
      // oidc-provider 9 routes its outgoing requests (back-channel logout,
      // jwks_uri, ...) through an SSRF-protecting dispatcher that refuses
      // special-use addresses such as 127.0.0.1. RPs of a dev IdP live on
      // loopback, so drop that dispatcher (the 2.5 s timeout signal stays).
      fetch: (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => {
        const { dispatcher: _ssrfGuard, ...rest } = options;
        return globalThis.fetch(url, rest);
      },
      jwks: jwks as Configuration['jwks'],
      pkce: { required: () => true },
      responseTypes: ['code'],
      rotateRefreshToken: true,
      // Like Entra ID: a refresh token for every client allowed the grant,
      // without oidc-provider's rule that offline_access needs prompt=consent.
      issueRefreshToken: async (_ctx: KoaContextWithOIDC, client: { grantTypeAllowed(type: string): boolean }) => client.grantTypeAllowed('refresh_token'),
      scopes: [...knownScopes],
      clientBasedCORS: (_ctx, origin, client) =>
        client.redirectUris.some((uri) => URL.parse(uri)?.origin === origin),
      interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
      features: {
        devInteractions: { enabled: false },
        resourceIndicators: { enabled: false },
        claimsParameter: { enabled: true },
        revocation: {
          enabled: true,
          // own policy only to keep oidc-provider from printing a notice
          allowedPolicy: (_ctx: KoaContextWithOIDC, client: { clientId: string }, token: { clientId?: string }) =>
            token.clientId === client.clientId,
        },
        backchannelLogout: { enabled: true },
        rpInitiatedLogout: {
          enabled: true,
          logoutSource: (ctx: KoaContextWithOIDC, form: string) => {
            // `form` is oidc-provider's <form id="op.logoutForm"> holding the
            // hidden xsrf input; put the buttons inside it (no JavaScript).
            const buttons = '<button type="submit" name="logout" value="yes" autofocus>Yes, sign me out</button>\n'
              + '<button type="submit">No, stay signed in</button>\n';
            ctx.type = 'html';
            ctx.body = page('Sign out - Dev IdP', `<h1>Do you want to sign out from ${escapeHtml(ctx.host)}?</h1>
${form.replace('</form>', `${buttons}</form>`)}`);
          },
          postLogoutSuccessSource: (ctx: KoaContextWithOIDC) => {
            ctx.type = 'html';
            ctx.body = page('Signed out - Dev IdP', '<h1>You are signed out.</h1>');
          },
        },
      },
      renderError: (ctx, out) => {
        ctx.type = 'html';
        ctx.body = page('Error - Dev IdP', `<h1>Something went wrong</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: <span class="${escapeHtml(k)}">${escapeHtml(v)}</span></p>`).join('\n')}`);
      },
      ttl: {
        AccessToken: opts.accessTokenTtlSeconds ?? 600,
        AuthorizationCode: 60,
        IdToken: opts.idTokenTtlSeconds ?? 3600,
        RefreshToken: 24 * 60 * 60,
        Interaction: 60 * 60,
        Session: 24 * 60 * 60,
        Grant: 24 * 60 * 60,
        // Disabled features, set only to keep oidc-provider from printing notices.
        ClientCredentials: 600,
        DeviceCode: 600,
        BackchannelAuthenticationRequest: 600,
        PreAuthorizedCode: 600,
      },
    };

    const provider = new Provider(issuer, configuration);
    provider.proxy = false;

    provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
      const type = ctx.oidc.params?.['grant_type'];
      if (type === 'authorization_code' || type === 'refresh_token') grants[type] += 1;
    });

    /** Build (or extend) a grant covering everything the request asks for. */
    const autoGrant = async (interaction: Interaction, accountId: string): Promise<string> => {
      const { params, prompt } = interaction;
      const clientId = String(params.client_id);
      let grant = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
      if (!grant || grant.accountId !== accountId) grant = new provider.Grant({ accountId, clientId });
      const requested = String(params.scope ?? '').split(' ').filter((s) => knownScopes.has(s));
      if (requested.length) grant.addOIDCScope(requested.join(' '));
      if (prompt.details.missingOIDCScope?.length) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      const requestedClaims = new Set<string>(prompt.details.missingOIDCClaims ?? []);
      if (typeof params.claims === 'string') {
        try {
          const parsed = JSON.parse(params.claims) as { id_token?: object; userinfo?: object };
          for (const k of Object.keys(parsed.id_token ?? {})) requestedClaims.add(k);
          for (const k of Object.keys(parsed.userinfo ?? {})) requestedClaims.add(k);
        } catch { /* malformed claims were already rejected by the provider */ }
      }
      if (requestedClaims.size) grant.addOIDCClaims([...requestedClaims]);
      for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      return grant.save();
    };

    const finish = (req: http.IncomingMessage, res: http.ServerResponse, result: InteractionResults, merge = true) =>
      provider.interactionFinished(req, res, result, { mergeWithLastSubmission: merge });

    const interactionRoute = async (
      req: http.IncomingMessage,
      res: http.ServerResponse,
      uid: string,
      action: string | undefined,
    ): Promise<void> => {
      let interaction: Interaction;
      try {
        interaction = await provider.interactionDetails(req, res);
      } catch (err) {
        send(res, 400, page('Error - Dev IdP', `<h1>Sign-in request expired</h1><p class="error">${escapeHtml((err as Error).message)}</p>`));
        return;
      }
      if (interaction.uid !== uid) {
        send(res, 400, page('Error - Dev IdP', '<h1>Sign-in request mismatch</h1>'));
        return;
      }

      if (req.method === 'GET' && action === undefined) {
        if (interaction.prompt.name === 'login') {
          send(res, 200, renderLogin(interaction));
          return;
        }
        if (interaction.prompt.name === 'consent' && interaction.session?.accountId) {
          // Automatic consent: no page, straight back to the authorization endpoint.
          const grantId = await autoGrant(interaction, interaction.session.accountId);
          await finish(req, res, { consent: { grantId } });
          return;
        }
        send(res, 400, page('Error - Dev IdP', `<h1>Unsupported prompt ${escapeHtml(interaction.prompt.name)}</h1>`));
        return;
      }

      if (req.method === 'POST' && action === 'login') {
        const form = await readForm(req);
        if (form.has('cancel')) {
          await finish(req, res, {
            error: 'access_denied',
            error_description: 'End-User cancelled the sign-in',
          }, false);
          return;
        }
        const login = (form.get('login') ?? '').trim();
        const password = form.get('password') ?? '';
        const user = users.get(login)
          ?? opts.users.find((u) => u.email.toLowerCase() === login.toLowerCase());
        if (!user || user.password !== password) {
          send(res, 200, renderLogin(interaction, { login, error: 'Invalid username or password.' }));
          return;
        }
        // Log in and consent in one go, so the browser goes straight back to
        // the client's redirect_uri (also satisfies an explicit prompt=consent).
        const grantId = await autoGrant(interaction, user.id);
        await finish(req, res, {
          login: { accountId: user.id, amr: user.amr ?? ['pwd'], remember: true },
          consent: { grantId },
        });
        return;
      }

      res.statusCode = 405;
      res.setHeader('Allow', 'GET, POST');
      res.end();
    };

    // Koa composes its middleware when callback() is called: one entry point for the ones tests add later.
    const added: Array<(ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>> = [];
    provider.use(async (ctx, next) => {
      const dispatch = async (i: number): Promise<void> => {
        const middleware = added[i];
        if (middleware === undefined) return await next();
        await middleware(ctx, async () => await dispatch(i + 1));
      };
      await dispatch(0);
    });
    const oidcCallback = provider.callback();
    handler = (req, res) => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      const match = /^\/interaction\/([^/]+)(?:\/([^/]+))?\/?$/.exec(path);
      if (!match) {
        void oidcCallback(req, res);
        return;
      }
      interactionRoute(req, res, decodeURIComponent(match[1]!), match[2]).catch((err: unknown) => {
        if (!res.headersSent) {
          send(res, 500, page('Error - Dev IdP', `<h1>Internal error</h1><p class="error">${escapeHtml((err as Error).message)}</p>`));
        } else {
          res.destroy();
        }
      });
    };

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    };

    const signingKeys = (jwks as { keys: JWK[] }).keys;
    const signJwt = async (payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> => {
      const jwk = signingKeys.find((k) => k.kid === (header.kid ?? signingKeys[0]?.kid)) ?? signingKeys[0];
      if (jwk === undefined) throw new Error('the dev IdP has no signing key');
      const alg = String(header.alg ?? jwk.alg ?? 'RS256');
      return await new SignJWT(payload).setProtectedHeader({ ...header, alg, kid: jwk.kid }).sign(await importJWK(jwk, alg));
    };
    return { issuer, provider, close, grants, signJwt, use: (middleware) => { added.push(middleware); } };
  } catch (err) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    throw err;
  }
}
