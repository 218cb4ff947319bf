import { randomBytes, randomUUID } from 'node:crypto'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRemoteJWKSet, decodeJwt, jwtVerify, type JWTPayload } from 'jose'
import { startDevIdp, type DevClient, type DevIdp } from '../../src/devidp/provider.js'

/**
 * A local stand-in for Microsoft Entra ID: oidc-provider does the sign-in
 * (login form, codes, refresh tokens), and this front reshapes what it
 * issues the way Entra does: per-tenant issuers (`{tenantid}` in the
 * metadata of organizations/common), tid/oid/preferred_username/groups/roles/
 * wids/amr/acrs claims, the group overage markers for users in more than 200
 * groups, Graph access tokens, and client-credentials tokens for APIs.
 */
export const GRAPH_AUDIENCE = '00000003-0000-0000-c000-000000000000'
const OVERAGE_LIMIT = 200
const GRAPH_ORIGIN = 'https://graph.microsoft.com'
/** Scopes every user of the stand-in has consented to (an app registration's default Graph permission). */
const DEFAULT_CONSENT = [`${GRAPH_ORIGIN}/User.Read`]
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access'])
const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer'

export interface EntraUser {
  id: string
  password: string
  name: string
  tid: string
  oid: string
  upn: string
  /** Group object ids (all memberships, for Graph); the token lists them up to 200. */
  groups: string[]
  roles?: string[]
  wids?: string[]
  amr?: string[]
  acrs?: string[]
  /**
   * Step-up: a one-time code the sign-in page asks for when the request asks
   * for an authentication context (the claims parameter) or MFA; with it the
   * ID token gains `mfa` in amr and these contexts in acrs.
   */
  stepUpCode?: string
  stepUpAcrs?: string[]
}

export interface EntraApp {
  clientId: string
  clientSecret: string
  tid: string
  /** Object id of the app's service principal. */
  oid: string
  /** App roles granted to the app on the API. */
  roles: string[]
}

export interface EntraStandin {
  /** The authority host: http://127.0.0.1:PORT. */
  url: string
  idp: DevIdp
  /** Graph access tokens issued, by token value. */
  graphTokens: Map<string, EntraUser>
  /** Client-credentials tokens issued, by token value, with their audience (a Graph origin for Graph). */
  appTokens: Map<string, string>
  /** Signs a token with the stand-in's key (for tokens it would not issue by itself). */
  sign (payload: JWTPayload, header?: Record<string, unknown>): Promise<string>
  /** A client-credentials token, as a service would get from /{tenant}/oauth2/v2.0/token. */
  clientCredentials (app: EntraApp, scope: string): Promise<string>
  /** Scopes of other APIs each user consented to (by user id): every user starts with Graph's User.Read; a sign-in asking for more adds them. */
  consents: Map<string, Set<string>>
  /** Tokens issued for other APIs (refresh tokens redeemed for them, On-Behalf-Of), with their audience and scopes. */
  resourceTokens: Map<string, { aud: string, scp: string, user: string }>
  close (): Promise<void>
}

interface Teardown { teardown (fn: () => unknown): void }

export async function startEntraStandin (t: Teardown, opts: { users: EntraUser[], clients: DevClient[], apps?: EntraApp[], accessTokenTtlSeconds?: number }): Promise<EntraStandin> {
  const idp = await startDevIdp({
    ...(opts.accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds: opts.accessTokenTtlSeconds }),
    users: opts.users.map(u => ({ id: u.id, password: u.password, name: u.name, email: u.upn, groups: [], roles: u.roles ?? [], amr: u.amr ?? ['pwd'], ...(u.stepUpCode === undefined ? {} : { stepUpCode: u.stepUpCode }) })),
    clients: opts.clients,
  })
  // Entra does not put `iss` in authorization responses (RFC 9207), nor advertise it.
  idp.provider.on('authorization.success', (_ctx: unknown, out: Record<string, unknown>) => { delete out.iss })
  const users = new Map(opts.users.map(u => [u.id, u]))
  const graphTokens = new Map<string, EntraUser>()
  const appTokens = new Map<string, string>()
  const consents = new Map(opts.users.map(u => [u.id, new Set(DEFAULT_CONSENT)]))
  const resourceTokens = new Map<string, { aud: string, scp: string, user: string }>()
  // Incremental consent: the scopes of other APIs a completed sign-in asked for are consented to.
  idp.provider.on('authorization.success', (ctx: { query?: Record<string, unknown>, oidc?: { params?: Record<string, unknown>, session?: { accountId?: string }, account?: { accountId?: string } } }) => {
    const user = ctx.oidc?.session?.accountId ?? ctx.oidc?.account?.accountId
    // oidc-provider leaves the scopes it does not know out of its params: the request's own are read.
    const asked = String(ctx.query?.scope ?? ctx.oidc?.params?.scope ?? '').split(' ').filter(s => s !== '' && !OIDC_SCOPES.has(s))
    if (user !== undefined) for (const scope of asked) consents.get(user)?.add(scope)
  })
  const server = http.createServer((req, res) => { handle(req, res).catch((err: unknown) => { res.statusCode = 500; res.end(String(err)) }) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const issuerOf = (tid: string): string => `${url}/${tid}/v2.0`
  const keys = createRemoteJWKSet(new URL(`${idp.issuer}/jwks`))
  const now = (): number => Math.floor(Date.now() / 1000)

  async function idTokenFor (original: string): Promise<string> {
    const c = decodeJwt(original)
    const user = users.get(String(c.sub))
    if (user === undefined) throw new Error(`unknown user ${String(c.sub)}`)
    // The sign-in behind the token stepped up (the one-time code was given): the contexts it satisfies.
    const stepped = user.stepUpCode !== undefined && Array.isArray(c.amr) && c.amr.includes('mfa')
    const acrs = stepped ? [...new Set([...(user.acrs ?? []), ...(user.stepUpAcrs ?? [])])] : user.acrs
    const claims: JWTPayload & Record<string, unknown> = {
      iss: issuerOf(user.tid),
      aud: c.aud,
      iat: c.iat,
      nbf: c.iat,
      exp: c.exp,
      ...(c.nonce === undefined ? {} : { nonce: c.nonce }),
      ...(c.sid === undefined ? {} : { sid: c.sid }),
      ...(c.auth_time === undefined ? {} : { auth_time: c.auth_time }),
      sub: `pairwise-${user.oid.slice(0, 8)}`,
      tid: user.tid,
      oid: user.oid,
      name: user.name,
      preferred_username: user.upn,
      ver: '2.0',
      amr: stepped ? [...new Set([...(user.amr ?? ['pwd']), 'mfa'])] : user.amr ?? ['pwd'],
      ...(user.roles === undefined ? {} : { roles: user.roles }),
      ...(user.wids === undefined ? {} : { wids: user.wids }),
      ...(acrs === undefined ? {} : { acrs }),
    }
    if (user.groups.length > OVERAGE_LIMIT) {
      claims._claim_names = { groups: 'src1' }
      claims._claim_sources = { src1: { endpoint: `https://graph.windows.net/${user.tid}/users/${user.oid}/getMemberObjects` } }
    } else {
      claims.groups = user.groups
    }
    return await idp.signJwt(claims, { typ: 'JWT' })
  }

  async function graphTokenFor (idToken: string, clientId: string): Promise<string> {
    const c = decodeJwt(idToken)
    const user = users.get(String(c.sub))
    if (user === undefined) throw new Error('unknown user')
    const token = await idp.signJwt({ iss: `https://sts.windows.net/${user.tid}/`, aud: GRAPH_AUDIENCE, tid: user.tid, oid: user.oid, azp: clientId, scp: 'openid profile email User.Read GroupMember.Read.All', iat: now(), exp: now() + 3600, uti: randomUUID() }, { typ: 'JWT', nonce: randomBytes(8).toString('hex') })
    graphTokens.set(token, user)
    return token
  }

  async function handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    const discovery = /^\/([A-Za-z0-9.-]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path)
    if (discovery !== null && req.method === 'GET') {
      const tenant = discovery[1] as string
      const metadata = await (await fetch(`${idp.issuer}/.well-known/openid-configuration`)).json() as Record<string, unknown>
      const multi = tenant === 'organizations' || tenant === 'common'
      const tid = multi ? '{tenantid}' : /^[0-9a-f-]{36}$/.test(tenant) ? tenant : opts.users[0]?.tid ?? tenant
      delete metadata.authorization_response_iss_parameter_supported
      json(res, 200, { ...metadata, issuer: issuerOf(tid), token_endpoint: `${url}/${tenant}/oauth2/v2.0/token` })
      return
    }
    const token = /^\/([A-Za-z0-9.-]+)\/oauth2\/v2\.0\/token$/.exec(path)
    if (token !== null && req.method === 'POST') {
      const body = await readBody(req)
      const form = new URLSearchParams(body)
      if (form.get('grant_type') === 'client_credentials') {
        const [clientId, clientSecret] = clientAuth(req, form)
        const app = opts.apps?.find(a => a.clientId === clientId && a.clientSecret === clientSecret)
        if (app === undefined) return json(res, 401, { error: 'invalid_client' })
        return json(res, 200, { token_type: 'Bearer', expires_in: 3600, access_token: await appToken(app, form.get('scope') ?? '') })
      }
      if (form.get('grant_type') === JWT_BEARER) return await onBehalfOf(req, res, form)
      // A refresh token redeemed for another API's scopes (Entra's refresh tokens are multi-resource).
      const apiScopes = form.get('grant_type') === 'refresh_token' ? (form.get('scope') ?? '').split(' ').filter(s => s !== '' && !OIDC_SCOPES.has(s)) : []
      let apiUser: EntraUser | undefined
      if (apiScopes.length > 0) {
        apiUser = users.get((await idp.provider.RefreshToken.find(form.get('refresh_token') ?? ''))?.accountId ?? '')
        if (apiUser === undefined) return json(res, 400, { error: 'invalid_grant', error_description: 'AADSTS70000: refresh token not valid' })
        if (!consented(apiUser, apiScopes)) return consentRequired(res, apiScopes)
        form.delete('scope')
      }
      const upstream = await fetch(`${idp.issuer}/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }) },
        body: form.toString(),
      })
      const answer = await upstream.json() as Record<string, unknown>
      if (upstream.ok && apiUser !== undefined) {
        answer.access_token = await resourceToken(apiUser, apiScopes, String(answer.id_token === undefined ? '' : decodeJwt(String(answer.id_token)).aud))
        answer.scope = apiScopes.join(' ')
        delete answer.id_token
      } else if (upstream.ok && typeof answer.id_token === 'string') {
        const clientId = String(decodeJwt(answer.id_token).aud)
        answer.access_token = await graphTokenFor(answer.id_token, clientId)
        answer.id_token = await idTokenFor(answer.id_token)
      }
      json(res, upstream.status, answer)
      return
    }
    json(res, 404, { error: 'not_found' })
  }

  function consented (user: EntraUser, scopes: readonly string[]): boolean {
    return scopes.every(s => consents.get(user.id)?.has(s) === true)
  }

  function consentRequired (res: http.ServerResponse, scopes: readonly string[]): void {
    json(res, 400, { error: 'invalid_grant', error_description: `AADSTS65001: The user or administrator has not consented to use the application with ID '...' named 'gatehouse'. Send an interactive authorization request for this user and resource. Scopes: ${scopes.join(' ')}`, error_codes: [65001], suberror: 'consent_required' })
  }

  /** An access token for another API: Graph's audience for Graph scopes, else the scopes' API. */
  async function resourceToken (user: EntraUser, scopes: readonly string[], clientId: string): Promise<string> {
    const first = scopes[0] ?? ''
    const api = first.slice(0, first.lastIndexOf('/'))
    const aud = api === GRAPH_ORIGIN ? GRAPH_AUDIENCE : api
    const scp = scopes.map(s => s.slice(s.lastIndexOf('/') + 1)).join(' ')
    const token = await idp.signJwt({ iss: `https://sts.windows.net/${user.tid}/`, aud, tid: user.tid, oid: user.oid, azp: clientId, scp, iat: now(), exp: now() + 3600, uti: randomUUID() }, { typ: 'JWT', nonce: randomBytes(8).toString('hex') })
    if (aud === GRAPH_AUDIENCE) graphTokens.set(token, user)
    resourceTokens.set(token, { aud, scp, user: user.id })
    return token
  }

  /** The On-Behalf-Of flow: a confidential client exchanges a user's token it received for one to another API. */
  async function onBehalfOf (req: http.IncomingMessage, res: http.ServerResponse, form: URLSearchParams): Promise<void> {
    const [clientId, clientSecret] = clientAuth(req, form)
    if (!opts.clients.some(c => c.client_id === clientId && c.client_secret === clientSecret)) return json(res, 401, { error: 'invalid_client' })
    if (form.get('requested_token_use') !== 'on_behalf_of') return json(res, 400, { error: 'invalid_request', error_description: 'AADSTS50027: requested_token_use must be on_behalf_of' })
    let claims: JWTPayload
    try {
      claims = (await jwtVerify(form.get('assertion') ?? '', keys)).payload
    } catch {
      return json(res, 400, { error: 'invalid_grant', error_description: 'AADSTS50013: Assertion failed signature validation.' })
    }
    const user = opts.users.find(u => u.oid === claims.oid && u.tid === claims.tid)
    if (user === undefined) return json(res, 400, { error: 'invalid_grant', error_description: 'AADSTS50013: unknown user' })
    const scopes = (form.get('scope') ?? '').split(' ').filter(s => s !== '' && !OIDC_SCOPES.has(s))
    if (!consented(user, scopes)) return consentRequired(res, scopes)
    json(res, 200, { token_type: 'Bearer', scope: scopes.join(' '), expires_in: 3600, ext_expires_in: 3600, access_token: await resourceToken(user, scopes, clientId ?? '') })
  }

  async function appToken (app: EntraApp, scope: string): Promise<string> {
    const audience = scope.replace(/\/\.default$/, '')
    const token = await idp.signJwt({ iss: issuerOf(app.tid), aud: audience, tid: app.tid, oid: app.oid, sub: app.oid, azp: app.clientId, azpacr: '1', idtyp: 'app', roles: app.roles, ver: '2.0', iat: now(), nbf: now(), exp: now() + 3600, uti: randomUUID() }, { typ: 'JWT' })
    appTokens.set(token, audience)
    return token
  }

  const standin: EntraStandin = {
    url,
    idp,
    graphTokens,
    appTokens,
    consents,
    resourceTokens,
    sign: async (payload, header = {}) => await idp.signJwt(payload, { typ: 'JWT', ...header }),
    clientCredentials: async (app, scope) => {
      const response = await fetch(`${url}/${app.tid}/oauth2/v2.0/token`, { method: 'POST', body: new URLSearchParams({ grant_type: 'client_credentials', client_id: app.clientId, client_secret: app.clientSecret, scope }) })
      const body = await response.json() as { access_token?: string }
      if (body.access_token === undefined) throw new Error(`client credentials refused: ${JSON.stringify(body)}`)
      return body.access_token
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      await idp.close()
    },
  }
  t.teardown(() => standin.close())
  return standin
}

/** The client's id and secret: in the form (client_secret_post) or as HTTP Basic (client_secret_basic, form-encoded parts). */
function clientAuth (req: http.IncomingMessage, form: URLSearchParams): [string | null, string | null] {
  const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '')
  if (basic === null) return [form.get('client_id'), form.get('client_secret')]
  const [id = '', secret = ''] = Buffer.from(basic[1] as string, 'base64').toString('utf8').split(':')
  return [decodeURIComponent(id.replace(/\+/g, ' ')), decodeURIComponent(secret.replace(/\+/g, ' '))]
}

function json (res: http.ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('content-type', 'application/json')
  res.setHeader('cache-control', 'no-store')
  res.end(JSON.stringify(body))
}

async function readBody (req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
