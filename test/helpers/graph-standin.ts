import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { EntraUser } from './entra-standin.js'

export interface GraphFault {
  status: number
  retryAfter?: string
  /** How many requests get the fault (default: all). */
  times?: number
}

export interface GraphStandin {
  /** Base URL like https://graph.microsoft.com/v1.0. */
  url: string
  /** Every request path + query received. */
  requests: string[]
  fault: GraphFault | undefined
  /** Set to make the first page link to another origin. */
  nextLinkOrigin: string | undefined
  close (): Promise<void>
}

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A local stand-in for Microsoft Graph: `GET /v1.0/me/transitiveMemberOf/microsoft.graph.group`
 * with `$top` and `@odata.nextLink` paging (at most `pageSize` a page), for
 * the user whose access token the Entra stand-in issued. Faults on demand.
 */
export async function startGraphStandin (t: Teardown, tokens: ReadonlyMap<string, EntraUser>, pageSize = 100): Promise<GraphStandin> {
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
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const standin: GraphStandin = {
    url: `${base}/v1.0`,
    requests: [],
    fault: undefined,
    nextLinkOrigin: undefined,
    async close () {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
  t.teardown(() => standin.close())
  return standin
}
