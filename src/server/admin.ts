import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import type { Logger } from '../log/logger.js'
import type { Readiness } from './readiness.js'

export interface AdminDeps {
  log: Logger
  /** The metrics in the text exposition format (this gateway's, or every worker's added up). */
  scrape: () => Promise<{ contentType: string, text: string }>
  readiness: () => Promise<Readiness>
}

/**
 * The admin listener: /metrics (Prometheus text format), /healthz and
 * /readyz, on an address of its own (admin.listen, loopback by default) so
 * that nothing of it is ever reachable through the public listener. Scrapes
 * and probes are not written to the access log.
 */
export function buildAdminServer (deps: AdminDeps): FastifyInstance {
  const app = Fastify({ loggerInstance: deps.log.child({ module: 'admin' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }), return503OnClosing: true })

  app.get('/metrics', async (_request, reply) => {
    const { contentType, text } = await deps.scrape()
    return reply.header('cache-control', 'no-store').type(contentType).send(text)
  })

  app.get('/healthz', async (_request, reply) => {
    reply.header('cache-control', 'no-store')
    return { status: 'ok' }
  })

  app.get('/readyz', async (_request, reply) => {
    const { ready, body } = await deps.readiness()
    reply.header('cache-control', 'no-store').code(ready ? 200 : 503)
    return body
  })

  app.setNotFoundHandler(async (_request, reply) => reply.code(404).send({ error: 'not_found', paths: ['/metrics', '/healthz', '/readyz'] }))
  return app
}
