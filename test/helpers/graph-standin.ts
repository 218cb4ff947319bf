import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { EntraUser } from './entra-standin.js'

export interface GraphFault {
  status: number
  retryAfter?: string
  /** How many requests get the fault (default: all). */
  times?: number
}

/** The directory behind `users/delta` and `groups/delta`: what an administrator changes in the Entra admin center. */
export interface DirectoryStandin {
  disable (user: EntraUser): void
  delete (user: EntraUser): void
  /** "Revoke sessions": sign-ins before now are no longer valid; returns the time set. */
  revokeSessions (user: EntraUser): string
  removeMember (group: string, user: EntraUser): void
}

export interface GraphStandin {
  /** Base URL like https://graph.microsoft.com/v1.0. */
  url: string
  /** Every request path + query received. */
  requests: string[]
  fault: GraphFault | undefined
  /** Set to make the first page link to another origin. */
  nextLinkOrigin: string | undefined
  directory: DirectoryStandin
  close (): Promise<void>
}

interface DirectoryState {
  users: EntraUser[]
  /** Client-credentials tokens and their audience. */
  appTokens: ReadonlyMap<string, string>
  /** Objects per delta page (small, so that rounds have several pages). */
  pageSize: number
}

interface Change { user: string, group?: string }
interface DeltaToken { since: number | null, upto: number, groups: string[] | null, offset: number }
interface UserState { enabled: boolean, deleted: boolean, validFrom: string | null }

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A local stand-in for Microsoft Graph: `GET /v1.0/me/transitiveMemberOf/microsoft.graph.group`
 * with `$top` and `@odata.nextLink` paging (at most `pageSize` a page), for
 * the user whose access token the Entra stand-in issued; and, with a
 * directory, `users/delta` and `groups/delta` (with `$filter=id eq …`) for
 * application tokens: pages, `@odata.deltaLink`, `@removed`. Faults on demand.
 */
export async function startGraphStandin (t: Teardown, tokens: ReadonlyMap<string, EntraUser>, pageSize = 100, directory?: DirectoryState): Promise<GraphStandin> {
  const changes: Change[] = []
  const states = new Map<string, UserState>()
  const stateOf = (user: EntraUser): UserState => {
    const state = states.get(user.oid) ?? { enabled: true, deleted: false, validFrom: null }
    states.set(user.oid, state)
    return state
  }
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://graph')
    standin.requests.push(`${url.pathname}${url.search}`)
    const fault = standin.fault
    if (fault !== undefined) {
      if (fault.times !== undefined && --fault.times <= 0) standin.fault = undefined
      res.statusCode = fault.status
      if (fault.retryAfter !== undefined) res.setHeader('retry-after', fault.retryAfter)
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ error: { code: fault.status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', message: 'fault injected' } }))
      return
    }
    const auth = req.headers.authorization ?? ''
    if (url.pathname === '/v1.0/users/delta' || url.pathname === '/v1.0/groups/delta') {
      if (directory === undefined || directory.appTokens.get(auth.slice(7)) !== base) {
        res.statusCode = 401
        res.setHeader('content-type', 'application/json')
        res.end(JSON.stringify({ error: { code: 'InvalidAuthenticationToken', message: 'an application token for Graph is needed' } }))
        return
      }
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(delta(url, directory)))
      return
    }
    const user = auth.startsWith('Bearer ') ? tokens.get(auth.slice(7)) : undefined
    if (user === undefined) {
      res.statusCode = 401
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ error: { code: 'InvalidAuthenticationToken', message: 'Access token is empty or invalid' } }))
      return
    }
    if (url.pathname !== '/v1.0/me/transitiveMemberOf/microsoft.graph.group') {
      res.statusCode = 404
      res.end(JSON.stringify({ error: { code: 'Request_ResourceNotFound' } }))
      return
    }
    const top = Math.min(Number(url.searchParams.get('$top') ?? '100'), pageSize)
    const skip = Number(url.searchParams.get('$skiptoken') ?? '0')
    const value = user.groups.slice(skip, skip + top).map(id => ({ '@odata.type': '#microsoft.graph.group', id }))
    const next = skip + top < user.groups.length
      ? `${standin.nextLinkOrigin ?? base}/v1.0/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=${top}&$skiptoken=${skip + top}`
      : undefined
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify({ '@odata.context': `${base}/v1.0/$metadata#directoryObjects`, value, ...(next === undefined ? {} : { '@odata.nextLink': next }) }))
  })
  /** One page of users/delta or groups/delta: what changed since the token's point (everything without one), `upto` the point of the first page. */
  function delta (url: URL, dir: DirectoryState): Record<string, unknown> {
    const users = url.pathname === '/v1.0/users/delta'
    const raw = url.searchParams.get('$skiptoken') ?? url.searchParams.get('$deltatoken')
    const filtered = [...(url.searchParams.get('$filter') ?? '').matchAll(/id eq '([0-9a-f-]{36})'/g)].map(m => m[1] as string)
    const token: DeltaToken = raw === null
      ? { since: null, upto: changes.length, groups: filtered.length > 0 ? filtered : null, offset: 0 }
      : { ...JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as DeltaToken, ...(url.searchParams.has('$deltatoken') ? { offset: 0 } : {}) }
    if (url.searchParams.has('$deltatoken')) token.upto = changes.length
    const recent = token.since === null ? undefined : changes.slice(token.since, token.upto)
    const entries = users ? userEntries(dir, recent) : groupEntries(dir, recent, token.groups)
    const page = entries.slice(token.offset, token.offset + dir.pageSize)
    const more = token.offset + dir.pageSize < entries.length
    const encode = (next: DeltaToken): string => Buffer.from(JSON.stringify(next)).toString('base64url')
    const path = `${base}${url.pathname}`
    return {
      '@odata.context': `${base}/v1.0/$metadata#${users ? 'users' : 'groups'}`,
      value: page,
      ...(more
        ? { '@odata.nextLink': `${path}?$skiptoken=${encode({ ...token, offset: token.offset + dir.pageSize })}` }
        : { '@odata.deltaLink': `${path}?$deltatoken=${encode({ since: token.upto, upto: token.upto, groups: token.groups, offset: 0 })}` }),
    }
  }

  function userEntries (dir: DirectoryState, recent: Change[] | undefined): Array<Record<string, unknown>> {
    const changed = recent === undefined ? undefined : new Set(recent.filter(c => c.group === undefined).map(c => c.user))
    return dir.users.filter(u => changed === undefined ? !stateOf(u).deleted : changed.has(u.oid)).map(u => {
      const state = stateOf(u)
      return state.deleted
        ? { id: u.oid, '@removed': { reason: 'deleted' } }
        : { id: u.oid, accountEnabled: state.enabled, signInSessionsValidFromDateTime: state.validFrom ?? '2026-01-01T00:00:00Z' }
    })
  }

  function groupEntries (dir: DirectoryState, recent: Change[] | undefined, only: string[] | null): Array<Record<string, unknown>> {
    const member = (oid: string, removed: boolean): Record<string, unknown> => ({ '@odata.type': '#microsoft.graph.user', id: oid, ...(removed ? { '@removed': { reason: 'deleted' } } : {}) })
    const all = [...new Set(dir.users.flatMap(u => u.groups))].filter(g => only === null || only.includes(g))
    if (recent === undefined) return all.map(g => ({ id: g, 'members@delta': dir.users.filter(u => u.groups.includes(g)).map(u => member(u.oid, false)) }))
    const removals = recent.filter(c => c.group !== undefined && (only === null || only.includes(c.group)))
    return [...new Set(removals.map(c => c.group as string))].map(g => ({ id: g, 'members@delta': removals.filter(c => c.group === g).map(c => member(c.user, true)) }))
  }

  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const standin: GraphStandin = {
    url: `${base}/v1.0`,
    requests: [],
    fault: undefined,
    nextLinkOrigin: undefined,
    directory: {
      disable (user) {
        stateOf(user).enabled = false
        changes.push({ user: user.oid })
      },
      delete (user) {
        stateOf(user).deleted = true
        changes.push({ user: user.oid })
      },
      revokeSessions (user) {
        const at = new Date().toISOString()
        stateOf(user).validFrom = at
        changes.push({ user: user.oid })
        return at
      },
      removeMember (group, user) {
        user.groups = user.groups.filter(g => g !== group)
        changes.push({ user: user.oid, group })
      },
    },
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
  t.teardown(() => standin.close())
  return standin
}
