import { createHash } from 'node:crypto'
import type { ClientCertificate, Identity } from './identity.js'

export type { ClientCertificate }

/** What Node's TLS socket offers (tls.TLSSocket), kept to what is read here. */
export interface PeerCertificateSource {
  readonly authorized?: boolean
  getPeerCertificate?: (detailed?: boolean) => { raw?: Buffer, subject?: NodeJS.Dict<string | string[]>, issuer?: NodeJS.Dict<string | string[]>, subjectaltname?: string, serialNumber?: string } | null
}

/** One TLS connection, one certificate: read once per connection (HTTP/2 streams and keep-alive requests share it). */
const perConnection = new WeakMap<object, ClientCertificate | null>()

/** The connection's verified client certificate, or undefined: none sent, or one that did not verify. */
export function verifiedClientCertificate (socket: PeerCertificateSource): ClientCertificate | undefined {
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined
  let known = perConnection.get(socket)
  if (known === undefined) {
    known = readCertificate(socket.getPeerCertificate(false)) ?? null
    perConnection.set(socket, known)
  }
  return known ?? undefined
}

function readCertificate (peer: ReturnType<NonNullable<PeerCertificateSource['getPeerCertificate']>>): ClientCertificate | undefined {
  if (peer === null || peer.raw === undefined || peer.raw.length === 0) return undefined
  const sans = subjectAltNames(peer.subjectaltname ?? '')
  return Object.freeze({
    subject: distinguishedName(peer.subject),
    subjectCn: firstValue(peer.subject?.CN),
    issuer: distinguishedName(peer.issuer),
    issuerCn: firstValue(peer.issuer?.CN),
    dns: sans.dns,
    uris: sans.uris,
    emails: sans.emails,
    thumbprint: createHash('sha256').update(peer.raw).digest('base64url'),
    serial: peer.serialNumber ?? '',
  })
}

function firstValue (value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

function distinguishedName (name: NodeJS.Dict<string | string[]> | undefined): string {
  if (name === undefined) return ''
  const parts: string[] = []
  for (const [key, value] of Object.entries(name)) {
    for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined) parts.push(`${key}=${v}`)
  }
  return parts.join(', ')
}

/** Node's `subjectaltname` text: `DNS:a.example, URI:spiffe://x/y, email:a@example, IP Address:10.0.0.1` (values may be quoted). */
function subjectAltNames (text: string): { dns: string[], uris: string[], emails: string[] } {
  const out = { dns: [] as string[], uris: [] as string[], emails: [] as string[] }
  for (const match of text.matchAll(/(DNS|URI|email):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const raw = (match[2] ?? '').trim()
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : raw
    if (match[1] === 'DNS') out.dns.push(value.toLowerCase())
    else if (match[1] === 'URI') out.uris.push(value)
    else out.emails.push(value)
  }
  return out
}

/**
 * The attributes of a distinguished name as written in a policy
 * (`CN=billing-batch, O=Example`) or read from a certificate, for comparing
 * regardless of order, spacing and the case of attribute names.
 */
export function dnAttributes (text: string): ReadonlySet<string> {
  const set = new Set<string>()
  for (const part of text.split(',')) {
    const eq = part.indexOf('=')
    if (eq <= 0) continue
    set.add(`${part.slice(0, eq).trim().toUpperCase()}=${part.slice(eq + 1).trim()}`)
  }
  return set
}

/** The common name of a distinguished name as written (`O=Example, CN=batch`), or undefined. */
export function commonNameOf (dn: string): string | undefined {
  for (const attribute of dnAttributes(dn)) if (attribute.startsWith('CN=')) return attribute.slice(3)
  return undefined
}

/**
 * A certificate described by its names (a policy test case, a decision
 * record being replayed): what client_certificate conditions test.
 */
export function describedCertificate (names: { subject: string, issuer?: string | undefined, dns?: readonly string[], uris?: readonly string[], emails?: readonly string[] }, thumbprint: string): ClientCertificate {
  const issuer = names.issuer ?? ''
  return Object.freeze({
    subject: names.subject,
    subjectCn: commonNameOf(names.subject),
    issuer,
    issuerCn: commonNameOf(issuer),
    dns: (names.dns ?? []).map(d => d.toLowerCase()),
    uris: names.uris ?? [],
    emails: names.emails ?? [],
    thumbprint,
    serial: '',
  })
}

const identities = new WeakMap<ClientCertificate, Identity>()

/**
 * The identity of a caller known only by its verified certificate (kind
 * `certificate`): its id is the first URI SAN (a SPIFFE id, for example),
 * else the first DNS SAN, else the first email SAN, else the subject's CN,
 * else the certificate's thumbprint. No groups, roles or claims: policies
 * test the certificate itself (client_certificate).
 */
export function certificateIdentity (cert: ClientCertificate): Identity {
  let identity = identities.get(cert)
  if (identity === undefined) {
    const id = cert.uris[0] ?? cert.dns[0] ?? cert.emails[0] ?? cert.subjectCn ?? `x5t#S256:${cert.thumbprint}`
    identity = Object.freeze({
      id,
      kind: 'certificate' as const,
      issuer: cert.issuer,
      subject: cert.subject,
      name: cert.subjectCn,
      email: cert.emails[0],
      groups: [],
      roles: [],
      amr: [],
      acr: undefined,
      sid: undefined,
      claims: {},
      certificate: cert,
    })
    identities.set(cert, identity)
  }
  return identity
}

const withCertificates = new WeakMap<Identity, WeakMap<ClientCertificate, Identity>>()

/** A signed-in identity that also came with a verified certificate: both reach the upstream. One object per pair, so caches keyed by identity keep working. */
export function withCertificate (identity: Identity, cert: ClientCertificate): Identity {
  if (identity.certificate === cert) return identity
  let byCert = withCertificates.get(identity)
  if (byCert === undefined) withCertificates.set(identity, byCert = new WeakMap())
  let merged = byCert.get(cert)
  if (merged === undefined) {
    merged = Object.freeze({ ...identity, certificate: cert })
    byCert.set(cert, merged)
  }
  return merged
}
