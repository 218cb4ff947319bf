import type { IncomingHttpHeaders } from 'node:http'
import { HEADER_ACCESS_TOKEN, HEADER_ASSERTION, headerValue, identityHeaders, listValue, sanitizeClientHeaders, withoutCookies, connectionOptions } from './identity-headers.js'
import type { IdentityHeaderNames } from '../policy/types.js'
import { foldHeaderName, GATEWAY_HEADERS } from '../net/header-name.js'
import { boundedMemo } from '../bounded-memo.js'
import type { Identity } from '../identify/identity.js'
import type { TraceContext } from '../net/trace-context.js'

/** What the gateway decided about a request, used to build what the upstream receives. */
export interface ForwardContext {
  identity: Identity | undefined
  assertion: string | undefined
  clientIp: string
  /** The public URL's scheme and host, for X-Forwarded-Proto and -Host. */
  publicParts: { readonly protocol: string, readonly host: string }
  requestId: string
  /** `traceparent` and `tracestate` for the upstream: the client's when valid, else new ones. */
  trace: TraceContext
  /** The route's extra names for identity headers (e.g. Remote-User). */
  headerNames: IdentityHeaderNames
  /** Folded names clients may never send (every route's extra identity header names). */
  reserved: ReadonlySet<string>
  /** Sent as X-Gatehouse-Access-Token when the route passes it. */
  accessToken: string | undefined
  /** The route's downstream_token: an access token for another API, under the route's header name (lower case). */
  downstream?: { readonly header: string, readonly token: string } | undefined
  /** The caller's Authorization header carried a bearer token the gateway consumed: it is not forwarded. */
  dropAuthorization?: boolean
}

/**
 * Forwarding headers describe the client as the gateway saw it; whatever the
 * client sent under these names, or names an upstream reads as these (compared
 * folded: see foldHeaderName), is removed, never appended to. So are headers
 * that make an upstream override the method or the path, and other spellings
 * of the request id and trace context the gateway sets.
 */
const CLIENT_FORWARDING_HEADERS: ReadonlySet<string> = new Set([
  'forwarded', 'x-forwarded', 'forwarded-for', 'x-real-ip', 'x-client-ip', 'true-client-ip', 'x-cluster-client-ip', 'client-ip',
  // Client-address headers of CDNs and clouds, which client-IP middleware reads when present.
  'cf-connecting-ip', 'cf-connecting-ipv6', 'cf-pseudo-ipv4', 'fastly-client-ip', 'x-appengine-user-ip', 'x-azure-clientip', 'x-azure-socketip',
  'x-envoy-external-address', 'x-originating-ip', 'x-remote-ip', 'x-remote-addr', 'x-proxyuser-ip',
  'x-original-url', 'x-original-uri', 'x-original-host', 'x-original-method', 'x-rewrite-url', 'x-host',
  'x-http-method-override', 'x-http-method', 'x-method-override', 'proxy-authorization',
  'x-request-id', 'traceparent', 'tracestate',
].map(foldHeaderName))
const CLIENT_FORWARDING_PREFIXES = ['x-forwarded-'].map(foldHeaderName)

/** Hop-by-hop request headers the gateway's own connection to the upstream replaces. */
const HOP_BY_HOP_REQUEST = new Set(['expect', 'upgrade', 'te', 'trailer', 'transfer-encoding'])

function isClientForwardingHeader (folded: string): boolean {
  return CLIENT_FORWARDING_HEADERS.has(folded) || CLIENT_FORWARDING_PREFIXES.some(p => folded.startsWith(p))
}

/**
 * Header names with `_` are dropped, as nginx and Apache do: behind CGI, PHP
 * or WSGI they collide with the `-` spelling of the gateway's headers. So are
 * forwarding and hop-by-hop headers. The answer for a name never changes: it
 * is remembered for the names seen (a bounded number of them).
 */
const notForwarded = boundedMemo((name: string): boolean =>
  name.includes('_') || isClientForwardingHeader(foldHeaderName(name)) || HOP_BY_HOP_REQUEST.has(name), 2000)

/** The client's tracestate is replaced by the trace context's (which keeps it only with the client's own traceparent). */
function notForwardedFromClient (name: string): boolean {
  return name === 'tracestate' || notForwarded(name)
}

/** The same, for a request whose Authorization header carried a bearer token the gateway consumed. */
function notForwardedWithoutAuthorization (name: string): boolean {
  return name === 'authorization' || notForwardedFromClient(name)
}

/** Request headers for an HTTP request to the upstream. */
export function upstreamRequestHeaders (clientHeaders: IncomingHttpHeaders, ctx: ForwardContext, gatewayCookies: readonly string[]): Record<string, string | string[]> {
  const headers = sanitizeClientHeaders(clientHeaders, gatewayCookies, ctx.reserved, ctx.dropAuthorization === true ? notForwardedWithoutAuthorization : notForwardedFromClient)
  const pub = ctx.publicParts
  headers['x-forwarded-for'] = ctx.clientIp
  headers['x-forwarded-proto'] = pub.protocol
  headers['x-forwarded-host'] = pub.host
  headers['x-request-id'] = ctx.requestId
  // The client's trace context passes unchanged when valid; a malformed one is replaced, never forwarded.
  headers.traceparent = ctx.trace.traceparent
  if (ctx.trace.tracestate !== undefined) headers.tracestate = ctx.trace.tracestate
  Object.assign(headers, gatewayIdentityHeaders(ctx))
  return headers
}

/**
 * The headers by which the gateway tells an upstream who is asking: the
 * identity headers, the route's extra names for them, the signed assertion
 * and, when the route passes it, the access token. Also the answer of an
 * allowed forward-auth request, for the proxy to copy upstream.
 */
export function gatewayIdentityHeaders (ctx: Pick<ForwardContext, 'identity' | 'assertion' | 'headerNames' | 'accessToken' | 'downstream'>): Record<string, string> {
  const headers: Record<string, string> = {}
  if (ctx.identity !== undefined) {
    Object.assign(headers, identityHeaders(ctx.identity))
    const { user, email, name, groups, roles } = ctx.headerNames
    const id = ctx.identity
    if (user !== undefined) headers[user.toLowerCase()] = headerValue(id.id)
    if (email !== undefined && id.email !== undefined) headers[email.toLowerCase()] = headerValue(id.email)
    if (name !== undefined && id.name !== undefined) headers[name.toLowerCase()] = headerValue(id.name)
    if (groups !== undefined && id.groups.length > 0) headers[groups.toLowerCase()] = listValue(id.groups)
    if (roles !== undefined && id.roles.length > 0) headers[roles.toLowerCase()] = listValue(id.roles)
  }
  if (ctx.assertion !== undefined) headers[HEADER_ASSERTION] = ctx.assertion
  if (ctx.accessToken !== undefined) headers[HEADER_ACCESS_TOKEN] = ctx.accessToken
  if (ctx.downstream !== undefined) headers[ctx.downstream.header] = ctx.downstream.token
  return headers
}

/**
 * Every header name gatewayIdentityHeaders may set on a route with these
 * extra names, in lower case; made once per route's (frozen) names, since
 * forward-auth asks for them on every request.
 */
export function gatewayIdentityHeaderNames (headerNames: IdentityHeaderNames): readonly string[] {
  let names = headerNamesOf.get(headerNames)
  if (names === undefined) {
    const extra = Object.values(headerNames).filter((n): n is string => typeof n === 'string').map(n => n.toLowerCase())
    names = Object.freeze([...new Set([...Object.values(GATEWAY_HEADERS), ...extra])])
    headerNamesOf.set(headerNames, names)
  }
  return names
}
const headerNamesOf = new WeakMap<IdentityHeaderNames, readonly string[]>()

/**
 * Every name, in lower case, under which the gateway passes identity on any
 * of these routes: what a proxy in front is configured to replace. Made once
 * per (frozen) route list.
 */
export function exactIdentityHeaderNames (routes: ReadonlyArray<{ readonly headers: IdentityHeaderNames }>): ReadonlySet<string> {
  let names = exactNamesOf.get(routes)
  if (names === undefined) {
    names = new Set(routes.flatMap(route => gatewayIdentityHeaderNames(route.headers)))
    exactNamesOf.set(routes, names)
  }
  return names
}
const exactNamesOf = new WeakMap<object, ReadonlySet<string>>()

/**
 * Request headers for a WebSocket upgrade to the upstream. The ws client
 * builds its own handshake; only these are carried over from the client.
 */
const WS_CARRIED = ['origin', 'user-agent', 'accept-language', 'traceparent', 'tracestate']

export function upstreamWebSocketHeaders (clientHeaders: IncomingHttpHeaders, ctx: ForwardContext, gatewayCookies: readonly string[]): Record<string, string> {
  const all = upstreamRequestHeaders(clientHeaders, ctx, gatewayCookies)
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(all)) {
    if (name.startsWith('x-') || WS_CARRIED.includes(name) || name === 'cookie' || name === ctx.downstream?.header) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

/**
 * Hop-by-hop headers of the upstream's connection describe that connection,
 * not the client's: the gateway frames its own response.
 */
const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'proxy-authenticate'])

/**
 * Response headers from the upstream: hop-by-hop ones, and those its
 * `Connection` header names, dropped; it may not set or clear the gateway's
 * own cookies. A new object (copying is cheaper than deleting from Node's).
 */
export function upstreamResponseHeaders (headers: IncomingHttpHeaders, gatewayCookies: readonly string[]): IncomingHttpHeaders {
  const named = connectionOptions(headers.connection)
  const out: IncomingHttpHeaders = {}
  for (const name in headers) {
    if (HOP_BY_HOP_RESPONSE.has(name) || named.has(name)) continue
    out[name] = headers[name]
  }
  const setCookie = out['set-cookie']
  if (setCookie === undefined) return out
  const list = (Array.isArray(setCookie) ? setCookie : [String(setCookie)])
    .filter(c => withoutCookies(c.split(';', 1)[0] ?? '', gatewayCookies) !== '')
  if (list.length === 0) delete out['set-cookie']
  else out['set-cookie'] = list
  return out
}
