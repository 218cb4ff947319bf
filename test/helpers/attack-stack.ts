import type { DevUser } from '../../src/devidp/provider.js'
import { policyDir, POLICY_USERS } from './policy-files.js'
import { rawExchange, rawRequest, type RawExchange, type RawResponse } from './raw-http.js'
import { startRecordingUpstream, type RecordingUpstream, type SeenRequest } from './recording-upstream.js'
import { startStack, type Stack, type StackOptions } from './stack.js'

/** The smallest policy with both kinds of route: /public/** for anyone, /api/** for signed-in users. */
export const PUBLIC_AND_API_POLICY = (up: string): string => `
upstreams:
  app: { url: ${up} }
routes:
  - name: public
    match: { path: /public/** }
    upstream: app
    allow: anyone
  - name: api
    match: { path: /api/** }
    upstream: app
    allow: authenticated
`

/** The policy users plus one without any group or role. */
export const ATTACK_USERS: DevUser[] = [
  ...POLICY_USERS,
  { id: 'nina', password: 'nina-pass', name: 'Nina NoGroups', email: 'nina@example.test', groups: [], roles: [], amr: ['pwd'] },
]

export interface AttackStack {
  stack: Stack
  /** The recording upstream every route of the policy forwards to. */
  up: RecordingUpstream
  port: number
  /** `name=value` of a fresh session of this user (signed in once per stack, then reused). */
  cookie (user: string): Promise<string>
  /** Sends one request as given (it should say `Connection: close`); resolves with the response. */
  send (request: string): Promise<RawResponse>
  /** Sends bytes and reads every response until the gateway closes the connection. */
  exchange (request: string | Buffer): Promise<RawExchange>
  /** Sends one request (see send) and returns the response with what the upstream received meanwhile. */
  probe (request: string): Promise<{ res: RawResponse, seen: SeenRequest[] }>
  /** Like probe, reading every response until the gateway closes the connection (see exchange). */
  probeAll (request: string | Buffer): Promise<{ res: RawExchange, seen: SeenRequest[] }>
}

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A gateway in front of a recording upstream, with a policy written for the
 * test (`policy` gets the upstream's URL), a real IdP and the users above.
 */
export async function startAttackStack (t: Teardown, policy: (upstreamUrl: string) => string, opts: StackOptions = {}): Promise<AttackStack> {
  const up = await startRecordingUpstream(t)
  const { file } = policyDir(t, policy(up.url))
  const stack = await startStack(t, { users: ATTACK_USERS, ...opts, env: { GATEHOUSE_POLICIES: file, ...opts.env } })
  const port = Number(new URL(stack.url).port)
  const cookies = new Map<string, Promise<string>>()
  return {
    stack,
    up,
    port,
    async cookie (user) {
      let known = cookies.get(user)
      if (known === undefined) {
        known = stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz').then(({ browser }) => {
          const value = stack.sessionCookie(browser)
          if (value === undefined) throw new Error(`${user} did not get a session cookie`)
          return `${stack.gateway.cookies.session}=${value}`
        })
        cookies.set(user, known)
      }
      return await known
    },
    send: async (request) => await rawRequest(port, request),
    exchange: async (request) => await rawExchange(port, request),
    async probe (request) {
      const before = up.seen.length
      const res = await rawRequest(port, request)
      return { res, seen: up.seen.slice(before) }
    },
    async probeAll (request) {
      const before = up.seen.length
      const res = await rawExchange(port, request)
      return { res, seen: up.seen.slice(before) }
    },
  }
}

/**
 * An HTTP/1.1 request as bytes: the request line, then the header lines as
 * given (any spelling, duplicates allowed), then the body.
 */
export function http11 (method: string, target: string, headers: ReadonlyArray<readonly [string, string]>, body = ''): string {
  return `${method} ${target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n${body}`
}

/** Host, Accept: application/json and Connection: close, then the given headers. */
export function apiHeaders (...extra: Array<readonly [string, string]>): Array<readonly [string, string]> {
  return [['Host', '127.0.0.1'], ['Accept', 'application/json'], ...extra, ['Connection', 'close']]
}
