import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance } from 'fastify'
import { policyDir, POLICY_USERS } from './policy-files.js'
import { rawExchange } from './raw-http.js'
import { startStack } from './stack.js'

interface Teardown { teardown (fn: () => unknown): void }

export interface Seen { url: string, headers: Record<string, unknown> }

export interface FastifyUpstream { url: string, seen: Seen[], app: FastifyInstance }

/**
 * A Fastify upstream that records every request. It reads requests the way
 * many upstreams do: an admin route whose first parameter it ignores
 * (`/api/:version/admin/users`), and a site it picks from the Host as
 * Node's documentation shows (`new URL(req.url, \`http://${host}\`)`).
 */
export async function fastifyUpstream (t: Teardown): Promise<FastifyUpstream> {
  const seen: Seen[] = []
  const app = Fastify()
  app.addContentTypeParser('*', (_req, payload, done) => { payload.resume(); payload.on('end', () => done(null)) })
  app.addHook('onRequest', async req => { seen.push({ url: req.url, headers: { ...req.headers } }) })
  app.get('/api/:version/admin/users', async () => 'ADMIN USER LIST')
  app.get('/', async req => new URL(req.url, `http://${req.headers.host ?? ''}`).hostname === 'admin.example.com' ? 'ADMIN SITE' : 'public site')
  app.all('/*', async () => 'ok')
  await app.listen({ host: '127.0.0.1', port: 0 })
  t.teardown(() => app.close())
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, seen, app }
}

/** A gateway that lets anyone through to a Fastify upstream (one route, `/**`): for the cases where the path or headers, not the user, are the point. */
export async function openGateway (t: Teardown): Promise<{ up: FastifyUpstream, port: number }> {
  const up = await fastifyUpstream(t)
  const { file } = policyDir(t, `
upstreams:
  app: { url: ${up.url} }
routes:
  - name: all
    match: { path: /** }
    upstream: app
    allow: anyone
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file }, users: POLICY_USERS })
  return { up, port: Number(new URL(stack.url).port) }
}

/** Sends the bytes (end with `Connection: close`) and returns the last response, with the statuses of every response before it (a 100 Continue, say). */
export async function lastResponse (port: number, request: string): Promise<{ status: number, statuses: number[], head: string, body: string }> {
  const { responses, statuses } = await rawExchange(port, request)
  const last = responses.at(-1)
  return { status: last?.status ?? 0, statuses, head: last?.head ?? '', body: last?.body ?? '' }
}
