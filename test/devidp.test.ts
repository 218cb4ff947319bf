import t from 'tap';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { DEMO_USERS, startDevIdp } from '../src/devidp/provider.js';
import type { DevIdp } from '../src/devidp/provider.js';
import { Browser, signInThroughIdp } from './helpers/browserless.js';

const CLIENT_ID = 'test-rp';
const CLIENT_SECRET = 'test-rp-secret-0123456789';

interface Transaction { codeVerifier: string; nonce: string }

interface CallbackBody {
  claims: Record<string, unknown>;
  id_token: string;
  refresh_token?: string;
  scope?: string;
}

/** A tiny relying party on node:http using openid-client 6. */
async function startRelyingParty(
  issuerUrl: () => string,
): Promise<{
  origin: string;
  config: () => client.Configuration;
  nextBackchannelLogout: () => Promise<string>;
  close(): Promise<void>;
}> {
  const transactions = new Map<string, Transaction>();
  const logoutTokenWaiters: Array<(token: string) => void> = [];
  let config: client.Configuration | undefined;
  let origin = '';

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    const handle = async () => {
      config ??= await client.discovery(
        new URL(issuerUrl()),
        CLIENT_ID,
        undefined,
        client.ClientSecretBasic(CLIENT_SECRET),
        { execute: [client.allowInsecureRequests] },
      );
      if (url.pathname === '/login') {
        const codeVerifier = client.randomPKCECodeVerifier();
        const state = client.randomState();
        const nonce = client.randomNonce();
        transactions.set(state, { codeVerifier, nonce });
        const params: Record<string, string> = {
          redirect_uri: `${origin}/callback`,
          scope: url.searchParams.get('scope') ?? 'openid profile email',
          code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
          code_challenge_method: 'S256',
          state,
          nonce,
        };
        const prompt = url.searchParams.get('prompt');
        if (prompt) params['prompt'] = prompt;
        res.statusCode = 302;
        res.setHeader('Set-Cookie', `rp_state=${state}; Path=/; HttpOnly; SameSite=Lax`);
        res.setHeader('Location', client.buildAuthorizationUrl(config, params).href);
        res.end();
        return;
      }
      if (url.pathname === '/callback') {
        if (url.searchParams.has('error')) {
          res.statusCode = 400;
          res.setHeader('Content-Type', 'application/json');
          res.end(JSON.stringify({
            error: url.searchParams.get('error'),
            error_description: url.searchParams.get('error_description'),
          }));
          return;
        }
        const cookieState = /(?:^|;\s*)rp_state=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
        const tx = cookieState ? transactions.get(cookieState) : undefined;
        if (!cookieState || !tx) {
          res.statusCode = 400;
          res.end('no transaction');
          return;
        }
        transactions.delete(cookieState);
        const tokens = await client.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: tx.codeVerifier,
          expectedState: cookieState,
          expectedNonce: tx.nonce,
          idTokenExpected: true,
        });
        const body: CallbackBody = {
          claims: { ...tokens.claims() },
          id_token: tokens.id_token!,
          ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
          ...(tokens.scope ? { scope: tokens.scope } : {}),
        };
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify(body));
        return;
      }
      if (url.pathname === '/backchannel' && req.method === 'POST') {
        let raw = '';
        for await (const chunk of req) raw += String(chunk);
        const token = new URLSearchParams(raw).get('logout_token') ?? '';
        for (const resolve of logoutTokenWaiters.splice(0)) resolve(token);
        res.statusCode = 200;
        res.end();
        return;
      }
      if (url.pathname === '/logged-out') {
        res.setHeader('Content-Type', 'text/html');
        res.end('<p>RP: logged out</p>');
        return;
      }
      res.statusCode = 404;
      res.end('not found');
    };
    handle().catch((err: unknown) => {
      res.statusCode = 500;
      res.end(`rp error: ${(err as Error).stack ?? String(err)}`);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    config: () => {
      if (!config) throw new Error('RP has not discovered the IdP yet');
      return config;
    },
    nextBackchannelLogout: () => new Promise<string>((resolve) => logoutTokenWaiters.push(resolve)),
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

t.test('dev IdP end to end with openid-client', async (t) => {
  let idp: DevIdp | undefined;
  const rp = await startRelyingParty(() => idp!.issuer);
  t.teardown(() => rp.close());

  idp = await startDevIdp({
    users: DEMO_USERS,
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: [`${rp.origin}/callback`],
      post_logout_redirect_uris: [`${rp.origin}/logged-out`],
      backchannel_logout_uri: `${rp.origin}/backchannel`,
    }],
  });
  const devIdp = idp;
  t.teardown(() => devIdp.close());

  t.match(devIdp.issuer, /^http:\/\/127\.0\.0\.1:\d+$/, 'issuer carries the bound port');
  t.not(devIdp.issuer, 'http://127.0.0.1:0');

  t.test('discovery and JWKS', async (t) => {
    const meta = await (await fetch(`${devIdp.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>;
    t.equal(meta['issuer'], devIdp.issuer);
    t.ok(meta['end_session_endpoint'], 'end_session_endpoint advertised');
    t.equal(meta['backchannel_logout_supported'], true);
    t.same(meta['code_challenge_methods_supported'], ['S256']);
    t.same(meta['token_endpoint_auth_methods_supported'], ['client_secret_basic', 'client_secret_post']);
    const claimsSupported = meta['claims_supported'] as string[];
    for (const claim of ['sub', 'name', 'email', 'groups', 'roles', 'amr', 'auth_time']) {
      t.ok(claimsSupported.includes(claim), `claims_supported has ${claim}`);
    }
    const jwks = await (await fetch(`${devIdp.issuer}/jwks`)).json() as { keys: Array<Record<string, unknown>> };
    t.same(jwks.keys.map((k) => k['alg']).sort(), ['ES256', 'RS256']);
    t.ok(jwks.keys.every((k) => typeof k['kid'] === 'string' && !('d' in k)), 'public keys with kids only');
  });

  t.test('alice signs in; ID token carries the claims', async (t) => {
    const browser = new Browser();
    const page = await signInThroughIdp(browser, `${rp.origin}/login`, 'alice', 'alice-pass');
    t.equal(page.status, 200, 'RP callback succeeded', { body: page.body });
    t.match(page.url, `${rp.origin}/callback?`);
    const body = JSON.parse(page.body) as CallbackBody;
    t.equal(body.claims['sub'], 'alice');
    t.equal(body.claims['iss'], devIdp.issuer);
    t.equal(body.claims['aud'], CLIENT_ID);
    t.equal(body.claims['name'], 'Alice Admin');
    t.equal(body.claims['email'], 'alice@example.test');
    t.same(body.claims['groups'], ['admins', 'staff']);
    t.same(body.claims['roles'], ['App.Admin']);
    t.ok((body.claims['amr'] as string[]).includes('mfa'), 'amr includes mfa');
    t.ok(body.claims['nonce'], 'nonce present');
    t.type(body.claims['auth_time'], 'number', 'auth_time present');
    t.type(body.claims['sid'], 'string', 'sid present (client has a back-channel logout URI)');
    t.ok(body.refresh_token, 'a refresh token for a client allowed the grant (the dev IdP does not require prompt=consent for offline_access)');
    // no consent page: the login POST goes straight back to the RP
    t.notOk(page.history.some((h) => /consent/i.test(h.url)), 'no consent page in the flow');
    t.ok(browser.cookies(devIdp.issuer).has('devidp_session'), 'IdP session cookie set');

    // the IdP session gives SSO: a second sign-in needs no form
    const again = await browser.get(`${rp.origin}/login`);
    t.equal(again.status, 200);
    t.equal((JSON.parse(again.body) as CallbackBody).claims['sub'], 'alice');
    t.equal(devIdp.grants.authorization_code >= 2, true, 'code grants counted');

    // prompt=consent with an existing session: consent is granted automatically
    const consented = await browser.get(
      `${rp.origin}/login?prompt=consent&scope=${encodeURIComponent('openid email offline_access')}`,
    );
    t.equal(consented.status, 200, 'RP callback succeeded', { body: consented.body });
    t.ok(consented.history.some((h) => h.url.startsWith(`${devIdp.issuer}/interaction/`)), 'went through a consent interaction');
    t.notOk(consented.history.some((h) => h.status === 200 && h.url.startsWith(devIdp.issuer)), 'no IdP page rendered');
    const consentedBody = JSON.parse(consented.body) as CallbackBody;
    t.equal(consentedBody.claims['sub'], 'alice');
    t.ok(consentedBody.refresh_token, 'offline_access granted without a consent page');
  });

  t.test('bob has no roles and pwd amr only', async (t) => {
    const page = await signInThroughIdp(new Browser(), `${rp.origin}/login`, 'bob', 'bob-pass');
    const body = JSON.parse(page.body) as CallbackBody;
    t.equal(body.claims['sub'], 'bob');
    t.same(body.claims['groups'], ['staff']);
    t.same(body.claims['roles'], []);
    t.same(body.claims['amr'], ['pwd']);
  });

  t.test('wrong password shows the form again with an error', async (t) => {
    const browser = new Browser();
    const page = await signInThroughIdp(browser, `${rp.origin}/login`, 'alice', 'nope');
    t.equal(page.status, 200);
    t.match(page.url, `${devIdp.issuer}/interaction/`);
    t.equal(page.history.length, 1, 'no redirect after the POST');
    t.notOk(page.history[0]!.location);
    t.match(page.body, /Invalid username or password/);
    t.match(page.body, /name="login" value="alice"/);
    t.match(page.body, /name="password"/);

    // the same interaction still accepts the right password
    const ok = await browser.submitForm(page, { login: 'alice', password: 'alice-pass' });
    t.equal(ok.status, 200);
    t.equal((JSON.parse(ok.body) as CallbackBody).claims['sub'], 'alice');
  });

  t.test('unknown user is rejected too', async (t) => {
    const page = await signInThroughIdp(new Browser(), `${rp.origin}/login`, 'mallory', 'alice-pass');
    t.match(page.body, /Invalid username or password/);
    t.match(page.url, `${devIdp.issuer}/interaction/`);
  });

  t.test('cancel returns access_denied to the redirect_uri', async (t) => {
    const browser = new Browser();
    const loginPage = await browser.get(`${rp.origin}/login`);
    t.match(loginPage.body, /name="login"/);
    const page = await browser.submitForm(loginPage, {}, { button: 'Cancel' });
    const landed = new URL(page.url);
    t.equal(landed.origin + landed.pathname, `${rp.origin}/callback`);
    t.equal(landed.searchParams.get('error'), 'access_denied');
    t.ok(landed.searchParams.get('state'), 'state echoed back');
    t.equal(page.status, 400);
    t.equal((JSON.parse(page.body) as { error: string }).error, 'access_denied');
  });

  t.test('offline_access with prompt=consent issues a refresh token that works', async (t) => {
    const browser = new Browser();
    const before = devIdp.grants.refresh_token;
    const page = await signInThroughIdp(
      browser,
      `${rp.origin}/login?scope=${encodeURIComponent('openid profile email offline_access')}&prompt=consent`,
      'alice',
      'alice-pass',
    );
    t.equal(page.status, 200, 'RP callback succeeded', { body: page.body });
    const body = JSON.parse(page.body) as CallbackBody;
    t.ok(body.refresh_token, 'refresh token issued');
    t.match(body.scope ?? '', /offline_access/);

    const refreshed = await client.refreshTokenGrant(rp.config(), body.refresh_token!);
    t.ok(refreshed.access_token);
    t.ok(refreshed.refresh_token, 'rotated refresh token');
    t.not(refreshed.refresh_token, body.refresh_token, 'refresh token rotated');
    const claims = refreshed.claims();
    t.equal(claims?.sub, 'alice');
    t.same(claims?.['groups'], ['admins', 'staff']);
    t.equal(devIdp.grants.refresh_token, before + 1, 'refresh_token grant counted');

    // the rotated-out token is dead
    await t.rejects(client.refreshTokenGrant(rp.config(), body.refresh_token!));
  });

  t.test('RP-initiated logout lands on post_logout_redirect_uri', async (t) => {
    const browser = new Browser();
    const page = await signInThroughIdp(browser, `${rp.origin}/login`, 'alice', 'alice-pass');
    const { id_token: idToken } = JSON.parse(page.body) as CallbackBody;

    const endSession = client.buildEndSessionUrl(rp.config(), {
      id_token_hint: idToken,
      post_logout_redirect_uri: `${rp.origin}/logged-out`,
      state: 'bye',
    });
    const backchannel = Promise.race([
      rp.nextBackchannelLogout(),
      new Promise<never>((_, reject) => {
        devIdp.provider.once('backchannel.error', (_ctx: unknown, err: unknown) => reject(err));
      }),
    ]);
    const confirm = await browser.get(endSession.href);
    t.equal(confirm.status, 200);
    t.notMatch(confirm.body, /Do you want to sign out|Yes, sign me out/, 'a valid id_token_hint: the IdP does not ask again');
    t.match(confirm.body, /<input type="hidden" name="logout" value="yes">/, 'the form ends the IdP session, not only this client\'s');

    const done = await browser.submitForm(confirm, {});
    t.equal(done.status, 200);
    const landed = new URL(done.url);
    t.equal(landed.origin + landed.pathname, `${rp.origin}/logged-out`);
    t.equal(landed.searchParams.get('state'), 'bye');
    t.match(done.body, /RP: logged out/);

    // back-channel logout token delivered to the RP before the redirect
    const logoutToken = await backchannel;
    const [, payloadPart = ''] = logoutToken.split('.');
    const logoutClaims = JSON.parse(Buffer.from(payloadPart, 'base64url').toString()) as Record<string, unknown>;
    const idClaims = JSON.parse(Buffer.from(idToken.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
    t.equal(logoutClaims['iss'], devIdp.issuer);
    t.equal(logoutClaims['sub'], 'alice');
    t.equal(logoutClaims['sid'], idClaims['sid'], 'logout token sid matches the ID token');
    t.ok((logoutClaims['events'] as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
    t.notOk(browser.cookies(devIdp.issuer).has('devidp_session'), 'IdP session cookie cleared');

    // signed out: the next authorization request shows the login form again
    const next = await browser.get(`${rp.origin}/login`);
    t.match(next.url, `${devIdp.issuer}/interaction/`);
    t.match(next.body, /name="password"/);
  });

  t.test('RP-initiated logout without an id_token_hint asks first, without JavaScript', async (t) => {
    const browser = new Browser();
    await signInThroughIdp(browser, `${rp.origin}/login`, 'alice', 'alice-pass');
    const endSession = client.buildEndSessionUrl(rp.config(), { client_id: CLIENT_ID, post_logout_redirect_uri: `${rp.origin}/logged-out` });
    const confirm = await browser.get(endSession.href);
    t.match(confirm.body, /Do you want to sign out/);
    t.match(confirm.body, /Yes, sign me out/);
    t.notMatch(confirm.body, /<script/i, 'no JavaScript on the question page');
    const done = await browser.submitForm(confirm, {}, { button: 'logout' });
    t.equal(new URL(done.url).pathname, '/logged-out');
    t.notOk(browser.cookies(devIdp.issuer).has('devidp_session'), 'IdP session cookie cleared');
  });

  t.test('RP-initiated logout with the ID token of another account asks first', async (t) => {
    const aliceBrowser = new Browser();
    const alicePage = await signInThroughIdp(aliceBrowser, `${rp.origin}/login`, 'alice', 'alice-pass');
    const { id_token: aliceToken } = JSON.parse(alicePage.body) as CallbackBody;
    const bobBrowser = new Browser();
    await signInThroughIdp(bobBrowser, `${rp.origin}/login`, 'bob', 'bob-pass');
    const endSession = client.buildEndSessionUrl(rp.config(), { id_token_hint: aliceToken, post_logout_redirect_uri: `${rp.origin}/logged-out` });
    const confirm = await bobBrowser.get(endSession.href);
    t.match(confirm.body, /Do you want to sign out/, 'a link carrying someone else\'s token does not sign bob out unasked');
  });

  t.test('discovery announces select_account, and prompt=select_account offers the account signed in or another', async (t) => {
    t.ok((rp.config().serverMetadata().prompt_values_supported as string[] | undefined)?.includes('select_account'));
    const browser = new Browser();
    await signInThroughIdp(browser, `${rp.origin}/login`, 'bob', 'bob-pass');
    const choice = await browser.get(`${rp.origin}/login?prompt=select_account`);
    t.match(choice.url, `${devIdp.issuer}/interaction/`);
    t.match(choice.body, /Continue as Bob Staff/);
    const again = await browser.submitForm(choice, {}, { button: 'current' });
    t.equal((JSON.parse(again.body) as CallbackBody).claims['sub'], 'bob', 'continue: still bob');

    const choice2 = await browser.get(`${rp.origin}/login?prompt=select_account`);
    const form = await browser.submitForm(choice2, {}, { button: 'other' });
    t.match(form.body, /name="password"/, 'another account: the login form');
    let done = await browser.submitForm(form, { login: 'alice', password: 'alice-pass' });
    // The IdP ends bob's session first with an auto-submitted form (sent by hand here, without JavaScript).
    for (let i = 0; i < 3 && /document\.forms\[0\]\.submit\(\)/.test(done.body); i++) done = await browser.submitForm(done, {});
    t.equal(done.status, 200, 'RP callback succeeded', { body: done.body });
    t.equal((JSON.parse(done.body) as CallbackBody).claims['sub'], 'alice', 'signed in as the other account');
  });

  t.test('prompt=select_account without a session shows the login form', async (t) => {
    const browser = new Browser();
    const form = await browser.get(`${rp.origin}/login?prompt=select_account`);
    t.match(form.body, /name="password"/);
    const done = await browser.submitForm(form, { login: 'bob', password: 'bob-pass' });
    t.equal((JSON.parse(done.body) as CallbackBody).claims['sub'], 'bob');
  });

  t.test('client_secret_post clients work too', async (t) => {
    const postIdp = await startDevIdp({
      users: DEMO_USERS,
      clients: [{
        client_id: 'post-client',
        client_secret: 'post-secret',
        redirect_uris: ['http://127.0.0.1:1/cb'],
        token_endpoint_auth_method: 'client_secret_post',
      }],
    });
    t.teardown(() => postIdp.close());
    const config = await client.discovery(
      new URL(postIdp.issuer),
      'post-client',
      undefined,
      client.ClientSecretPost('post-secret'),
      { execute: [client.allowInsecureRequests] },
    );
    // A bogus code authenticates the client first, then fails on the grant.
    const res = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: 'bogus',
        redirect_uri: 'http://127.0.0.1:1/cb',
        code_verifier: 'x'.repeat(43),
        client_id: 'post-client',
        client_secret: 'post-secret',
      }),
    });
    t.equal(res.status, 400);
    t.equal(((await res.json()) as { error: string }).error, 'invalid_grant', 'client authenticated, grant rejected');
    const bad = await fetch(config.serverMetadata().token_endpoint!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: 'bogus', client_id: 'post-client', client_secret: 'wrong' }),
    });
    t.equal(((await bad.json()) as { error: string }).error, 'invalid_client');
  });
});

t.test('Browser helper', async (t) => {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/set') {
      res.setHeader('Set-Cookie', [
        'a=1; Path=/',
        'b=2; Path=/deep; HttpOnly',
        'gone=x; Path=/; Max-Age=0',
        'old=y; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT',
      ]);
      res.statusCode = 303;
      res.setHeader('Location', '/echo');
      res.end();
      return;
    }
    if (url.pathname === '/loop') {
      res.statusCode = 302;
      res.setHeader('Location', '/loop');
      res.end();
      return;
    }
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ path: url.pathname, headers: req.headers }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const browser = new Browser();
  const page = await browser.get(`${origin}/set`);
  t.equal(page.url, `${origin}/echo`);
  t.same(page.history.map((h) => h.status), [303, 200]);
  const echoed = JSON.parse(page.body) as { headers: Record<string, string> };
  t.equal(echoed.headers['cookie'], 'a=1', 'path-scoped and deleted cookies not sent');
  t.equal(echoed.headers['sec-fetch-mode'], 'navigate', 'navigation Sec-Fetch-Mode');
  t.match(echoed.headers['accept'], /text\/html/);
  t.same([...browser.cookies(origin)], [['a', '1'], ['b', '2']]);

  const deep = JSON.parse((await browser.get(`${origin}/deep/x`)).body) as { headers: Record<string, string> };
  t.equal(deep.headers['cookie'], 'b=2; a=1');

  browser.setCookie(origin, 'manual', 'z');
  const api = JSON.parse((await browser.get(`${origin}/api`, {
    headers: { accept: 'application/json', 'sec-fetch-mode': 'cors' },
  })).body) as { headers: Record<string, string> };
  t.equal(api.headers['accept'], 'application/json');
  t.equal(api.headers['sec-fetch-mode'], 'cors');
  t.match(api.headers['cookie'], /manual=z/);

  const noFollow = await browser.request(`${origin}/set`, { followRedirects: false });
  t.equal(noFollow.status, 303);
  t.equal(noFollow.history[0]!.location, '/echo');

  await t.rejects(browser.get(`${origin}/loop`), /too many redirects/);
});
