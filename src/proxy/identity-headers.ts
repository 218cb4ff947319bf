import type { IncomingHttpHeaders } from 'node:http'
import type { Identity } from '../identify/identity.js'
import { FOLDED_IDENTITY_PREFIX, foldHeaderName, GATEWAY_HEADERS } from '../net/header-name.js'
import { boundedMemo } from '../bounded-memo.js'
import { parseEmailAddress } from '../identify/email-address.js'

export { foldHeaderName } from '../net/header-name.js'

/** Every header under this prefix belongs to the gateway; clients cannot send one. */
export const IDENTITY_HEADER_PREFIX = 'x-gatehouse-'

export const HEADER_USER = GATEWAY_HEADERS.user
export const HEADER_EMAIL = GATEWAY_HEADERS.email
export const HEADER_NAME = GATEWAY_HEADERS.name
export const HEADER_GROUPS = GATEWAY_HEADERS.groups
export const HEADER_ROLES = GATEWAY_HEADERS.roles
export const HEADER_ASSERTION = GATEWAY_HEADERS.assertion
export const HEADER_ACCESS_TOKEN = GATEWAY_HEADERS.accessToken
export const HEADER_KIND = GATEWAY_HEADERS.kind
export const HEADER_TENANT = GATEWAY_HEADERS.tenant
export const HEADER_CLIENT = GATEWAY_HEADERS.client
export const HEADER_CERT_SUBJECT = GATEWAY_HEADERS.certSubject
export const HEADER_CERT_ISSUER = GATEWAY_HEADERS.certIssuer
export const HEADER_CERT_SAN = GATEWAY_HEADERS.certSan
export const HEADER_CERT_THUMBPRINT = GATEWAY_HEADERS.certThumbprint

/**
 * Whether a client's header could pass for one of the gateway's identity
 * headers or one of `extra` (folded names: the routes' own names for them),
 * under any spelling an upstream folds onto the same name.
 */
export function isReservedHeader (name: string, extra: ReadonlySet<string> = EMPTY): boolean {
  const folded = foldHeaderName(name)
  return folded.startsWith(FOLDED_IDENTITY_PREFIX) || extra.has(folded)
}

const EMPTY: ReadonlySet<string> = new Set()

/**
 * The client's header names (lower case, as Node gives them) that fold onto a
 * reserved name under a spelling other than one of `exact`. A proxy in front
 * replaces or removes headers by their exact name only: under any other
 * spelling, the client's value would reach the upstream.
 */
export function otherSpellingsOfReserved (headers: IncomingHttpHeaders, exact: ReadonlySet<string>, extraReserved: ReadonlySet<string>): string[] {
  return Object.keys(headers).filter(name => !exact.has(name) && isReservedHeader(name, extraReserved))
}

/**
 * Removes from the client's headers everything that could pass for identity,
 * HTTP/2 pseudo-headers, the hop-by-hop `connection` header and every header it names (so a client
 * cannot make a proxy drop headers the gateway adds), and the gateway's own
 * cookies, and whatever `alsoDrop` names. Returns a new object.
 */
export function sanitizeClientHeaders (headers: IncomingHttpHeaders, gatewayCookies: readonly string[], extraReserved: ReadonlySet<string> = EMPTY, alsoDrop?: (lowerCaseName: string) => boolean): Record<string, string | string[]> {
  // Built by adding only what is kept: a delete would turn the object into a slow dictionary for every later reader.
  const out: Record<string, string | string[]> = {}
  const named = connectionOptions(headers.connection)
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    // HTTP/2 pseudo-headers (:authority, :path, …) describe the client's hop; Host carries the authority on.
    if (lower.charCodeAt(0) === 58 /* : */) continue
    if (lower === 'connection' || lower === 'proxy-connection' || lower === 'keep-alive' || named.has(lower) || isReservedHeader(lower, extraReserved) || alsoDrop?.(lower) === true) continue
    if (lower === 'cookie' && typeof value === 'string') {
      const kept = withoutCookies(value, gatewayCookies)
      if (kept !== '') out.cookie = kept
      continue
    }
    out[lower] = value
  }
  return out
}

/**
 * The header names a `Connection` header lists (RFC 9110, 7.6.1): they belong
 * to the client's hop only. The same few values (`keep-alive`, `close`,
 * `Upgrade`) arrive on nearly every request: answers are remembered (a
 * bounded number of them).
 */
export function connectionOptions (value: string | string[] | undefined): ReadonlySet<string> {
  return value === undefined ? EMPTY : connectionValues(Array.isArray(value) ? value.join(',') : value)
}
const connectionValues = boundedMemo((text: string): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const token of text.split(',')) {
    const name = token.trim().toLowerCase()
    if (name !== '') names.add(name)
  }
  return names
}, 1000)

/** Drops the named cookies from a Cookie header, keeping the others exactly as sent. */
export function withoutCookies (header: string, names: readonly string[]): string {
  return header.split(';')
    .filter(part => {
      const eq = part.indexOf('=')
      const name = (eq === -1 ? part : part.slice(0, eq)).trim()
      return name !== '' && !names.includes(name)
    })
    .map(part => part.trim())
    .join('; ')
}

/**
 * Header values are kept to printable ASCII: characters outside it, commas
 * (the list separator) and `%` are percent-encoded as UTF-8. The signed
 * assertion carries the exact values.
 */
export function headerValue (text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x2b\x2d-\x7e]/gu, ch => {
    try {
      return encodeURIComponent(ch)
    } catch {
      return '%EF%BF%BD' // a lone surrogate: U+FFFD
    }
  })
}

/** A list header's value: each item encoded, comma-separated. */
export function listValue (items: readonly string[]): string {
  return items.map(headerValue).join(',')
}

const serialized = new WeakMap<Identity, Readonly<Record<string, string>>>()

/** The identity headers for a user, without the assertion; serialized once per (frozen, cached) identity. */
export function identityHeaders (identity: Identity): Readonly<Record<string, string>> {
  const known = serialized.get(identity)
  if (known !== undefined) return known
  const headers: Record<string, string> = {
    [HEADER_USER]: headerValue(identity.id),
    [HEADER_KIND]: identity.kind ?? 'user',
  }
  // No groups or no roles: no header (not an empty one); the client's own is removed all the same.
  if (identity.groups.length > 0) headers[HEADER_GROUPS] = listValue(identity.groups)
  if (identity.roles.length > 0) headers[HEADER_ROLES] = listValue(identity.roles)
  if (identity.tenant !== undefined) headers[HEADER_TENANT] = headerValue(identity.tenant)
  if (identity.clientId !== undefined) headers[HEADER_CLIENT] = headerValue(identity.clientId)
  // Only text that is exactly one address is sent as an email (a session may predate that check).
  if (identity.email !== undefined && parseEmailAddress(identity.email) !== undefined) headers[HEADER_EMAIL] = headerValue(identity.email)
  if (identity.name !== undefined) headers[HEADER_NAME] = headerValue(identity.name)
  const cert = identity.certificate
  if (cert !== undefined) {
    headers[HEADER_CERT_SUBJECT] = headerValue(cert.subject)
    headers[HEADER_CERT_ISSUER] = headerValue(cert.issuer)
    const sans = [...cert.dns.map(d => `DNS:${d}`), ...cert.uris.map(u => `URI:${u}`), ...cert.emails.map(e => `email:${e}`)]
    if (sans.length > 0) headers[HEADER_CERT_SAN] = listValue(sans)
    headers[HEADER_CERT_THUMBPRINT] = cert.thumbprint
  }
  Object.freeze(headers)
  serialized.set(identity, headers)
  return headers
}

/** Bytes the identity headers and the assertion add to a request (name, ": ", value, CRLF each). */
export function identityHeaderBytes (identity: Identity, assertion: string | undefined): number {
  let bytes = assertion === undefined ? 0 : HEADER_ASSERTION.length + assertion.length + 4
  for (const [name, value] of Object.entries(identityHeaders(identity))) bytes += name.length + value.length + 4
  return bytes
}
