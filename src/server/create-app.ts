import { randomUUID } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from 'fastify'
import type { GatewayConfig } from '../config/types.js'
import { clientAddress, peerAddress } from '../identify/client-address.js'
import { AccessLog } from '../log/access-log.js'
import type { Logger } from '../log/logger.js'
import { RequestLogger } from '../log/request-logger.js'
import { UNROUTED, type GatewayMetrics } from '../metrics/gateway-metrics.js'
import { addressText } from '../net/address.js'
import { traceContext, type TraceContext } from '../net/trace-context.js'
import { clientErrorHandler } from './client-error.js'
import { hostFromAuthority } from './http2-host.js'
import { applyHttp1Limits, publicListenerOptions } from './public-listener.js'
import type { TlsMaterial } from '../tls/tls-files.js'
import { PageRenderer } from './html.js'
import { refuseConnect } from './refuse-connect.js'
import { rewriteToCanonical } from './route-request.js'

const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/
/** A request's trace context, kept on Node's request object (cheaper than a WeakMap entry per request). */
const TRACE = Symbol('gatehouse.trace')

/** The trace context is read once, where the request's logger is made, so that every line of the request carries its trace id. */
function traceOf (raw: IncomingMessage): TraceContext {
  const traced = raw as IncomingMessage & { [TRACE]?: TraceContext }
  let trace = traced[TRACE]
  if (trace === undefined) {
    trace = traceContext(raw.headers.traceparent, raw.headers.tracestate)
    traced[TRACE] = trace
  }
  return trace
}

/** The client's request id when it is a sane one, else a new UUID. */
function requestIdOf (req: IncomingMessage): string {
  const incoming = req.headers['x-request-id']
  return typeof incoming === 'string' && REQUEST_ID_PATTERN.test(incoming) ? incoming : randomUUID()
}

/**
 * The Fastify instance with Node's limits on what a client sends, request
 * ids, trace context, the canonical path rewrite, and the per-request
 * fields every later step reads. No route and no gateway step is here.
 */
export function createApp (config: GatewayConfig, log: Logger, metrics: GatewayMetrics, tls?: TlsMaterial): FastifyInstance {
  const { limits } = config
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    // Node's own limits on what a client sends, before any of the gateway's code runs; HTTPS and HTTP/2 with tls.cert_file.
    ...publicListenerOptions(config, tls),
    clientErrorHandler: clientErrorHandler(log),
    genReqId: requestIdOf,
    logController: new AccessLog({ requestIdLogLabel: 'reqId' }),
    // The trace id is bound where the request's logger is made; that logger becomes a pino child only when it first writes.
    childLoggerFactory (logger, bindings, childOptions, raw) {
      (bindings as Record<string, unknown>).traceId = traceOf(raw as IncomingMessage).traceId
      return new RequestLogger(logger as Logger, bindings, childOptions) as unknown as FastifyBaseLogger
    },
    bodyLimit: limits.maxBodySize,
    trustProxy: false,
    return503OnClosing: true,
    rewriteUrl: rewriteToCanonical,
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 500 },
  } as FastifyServerOptions) as unknown as FastifyInstance
  if (tls !== undefined) {
    applyHttp1Limits(app.server, limits)
    hostFromAuthority(app.server)
  }

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // Behind a TLS-terminating load balancer the socket is plain http, but the
    // browser speaks https to the public URL: the cookie plugins must see that.
    if (config.secureCookies) Object.defineProperty(request, 'protocol', { value: 'https' })
    done()
  })
  const hsts = config.strictTransportSecurity
  if (hsts !== undefined) {
    // On every answer, the upstream's included: the gateway decides how its origin is reached.
    app.addHook('onSend', (_request, reply, payload, done) => {
      reply.header('strict-transport-security', hsts)
      done(null, payload)
    })
  }
  refuseConnect(app.server, log)
  app.decorate('pages', new PageRenderer(config.branding))
  app.decorateRequest('routed', null)
  app.decorateRequest('forwardAuth', null)
  app.decorateRequest('routeLabel', UNROUTED)
  app.decorateRequest('decision', 'none')
  app.decorateRequest('trace', { getter (this: FastifyRequest) { return traceOf(this.raw) } })
  app.decorateRequest('clientIp', {
    getter (this: FastifyRequest) {
      const address = this.routed?.clientIp ?? clientAddress(peerAddress(this.socket), this.headers['x-forwarded-for'], config.trustedProxies)
      return address === undefined ? undefined : addressText(address)
    },
  })
  // Every answered request is counted by route, decision and status (a few map lookups, no allocation).
  app.addHook('onResponse', (request, reply, done) => {
    metrics.request(request.routeLabel, request.decision, reply.statusCode)
    done()
  })
  return app
}
