import { randomBytes, randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'

export const CAEP = 'https://schemas.openid.net/secevent/caep/event-type/'
export const RISC = 'https://schemas.openid.net/secevent/risc/event-type/'

export interface SsfTransmitter {
  issuer: string
  audience: string
  bearerSecret: string
  jwksUrl: string
  /** The `ssf.transmitters` entry for the gateway's config file. */
  configYaml: string
  /** A SET with one event about `subject` (its `sub_id`), signed by the transmitter's key unless told otherwise. */
  sign (event: string, subject: Record<string, unknown>, opts?: { claims?: JWTPayload, key?: CryptoKey, typ?: string }): Promise<string>
  /** Pushes a SET as RFC 8935 says; the bearer secret is the transmitter's unless given. */
  push (receiverUrl: string, set: string, bearer?: string): Promise<{ status: number, body: Record<string, unknown> | undefined }>
  /** How the key set is served from now on: `ok`, an HTTP 503, or a body that is not JSON. */
  serveKeys (how: 'ok' | 'unavailable' | 'garbled'): void
}

interface Teardown { teardown (fn: () => unknown): void }

/** A Shared Signals transmitter on loopback: publishes its keys, signs SETs with jose, and pushes them. */
export async function startSsfTransmitter (t: Teardown, audience: string): Promise<SsfTransmitter> {
  const { privateKey, publicKey } = await generateKeyPair('ES256')
  const kid = randomUUID()
  const jwks = JSON.stringify({ keys: [{ ...await exportJWK(publicKey), kid, alg: 'ES256', use: 'sig' }] })
  let serving: 'ok' | 'unavailable' | 'garbled' = 'ok'
  const server = createServer((_req, res) => {
    if (serving === 'unavailable') res.writeHead(503).end()
    else res.writeHead(200, { 'content-type': 'application/json' }).end(serving === 'ok' ? jwks : '<html>')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { await new Promise(resolve => server.close(resolve)) })
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const issuer = `${base}/`
  const jwksUrl = `${base}/jwks`
  const bearerSecret = randomBytes(24).toString('hex')
  return {
    issuer,
    audience,
    bearerSecret,
    jwksUrl,
    configYaml: `ssf:\n  transmitters:\n    - issuer: ${issuer}\n      jwks_url: ${jwksUrl}\n      audience: ${audience}\n      bearer_secret: ${bearerSecret}\n`,
    async sign (event, subject, opts = {}) {
      const claims = { iss: issuer, aud: audience, iat: Math.floor(Date.now() / 1000), jti: randomUUID(), sub_id: subject, events: { [event]: { event_timestamp: Math.floor(Date.now() / 1000) } }, ...opts.claims }
      return await new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: opts.typ ?? 'secevent+jwt' }).sign(opts.key ?? privateKey)
    },
    serveKeys (how) { serving = how },
    async push (receiverUrl, set, bearer = bearerSecret) {
      const res = await fetch(receiverUrl, { method: 'POST', headers: { 'content-type': 'application/secevent+jwt', accept: 'application/json', authorization: `Bearer ${bearer}` }, body: set })
      const text = await res.text()
      return { status: res.status, body: text === '' ? undefined : JSON.parse(text) as Record<string, unknown> }
    },
  }
}
