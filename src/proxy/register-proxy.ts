import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { ClientOptions } from 'ws'
import httpProxy from '@fastify/http-proxy'
import type { GatewayConfig } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import { bodyTimedOut, withBodyDeadline } from './body-deadline.js'
import { upstreamRequestHeaders, upstreamResponseHeaders, upstreamWebSocketHeaders, type ForwardContext } from './forward-headers.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the pipeline once a request is allowed; what the proxy forwards. */
    forward: Forward | null
  }
}

/**
 * What the guard decided to forward; `sentAt` is set when the request leaves for the upstream (performance.now()).
 * `upstreamStepUp` is set on routes with step_up_from_upstream for a signed-in session: the upstream's
 * 401 is looked at before it is passed on.
 */
export type Forward = ForwardContext & { upstream: string, timeoutMs: number, sentAt: number, upstreamStepUp: UpstreamStepUpFacts | undefined }

/** What an upstream's step-up challenge is judged with: the route, its upstream, and the step-up the session last came back from. */
export interface UpstreamStepUpFacts {
  readonly route: string
  readonly upstreamName: string
  /** The path to come back to after the step-up. */
  readonly returnTo: string
  readonly tried: { readonly key: string, readonly at: number } | undefined
}

/** Sends the gateway's own answer in place of an upstream's 401 (the upstream's headers already removed). */
export type UpstreamAnswer = (reply: FastifyReply) => Promise<unknown>

export interface ProxyDeps {
  config: GatewayConfig
  gatewayCookies: readonly string[]
  /** Identifies and authorizes. True: forward. False: it has answered already (denied), do nothing more. */
  guard: (request: FastifyRequest, reply: FastifyReply) => Promise<boolean>
  /** Answers a request the upstream did not answer (timeout, unreachable, a body too slow to send). */
  refuse: (request: FastifyRequest, reply: FastifyReply, error: GatehouseError, headers?: Record<string, string>) => void
  /**
   * An upstream's 401 with WWW-Authenticate, on a request with `upstreamStepUp`: how to answer it
   * instead (a step-up), or undefined to pass it to the client as it is.
   */
  upstreamChallenge: (request: FastifyRequest, wwwAuthenticate: string | readonly string[]) => Promise<UpstreamAnswer | undefined>
  /** Called when the upstream's response headers arrive, with the seconds since the request was sent. */
  onUpstreamResponse?: (request: FastifyRequest, seconds: number) => void
}

/**
 * Forwards allowed requests with @fastify/http-proxy (HTTP and WebSocket).
 * The upstream and the headers come from request.forward, set by the guard;
 * a request without it is never forwarded.
 */
export async function registerProxy (app: FastifyInstance, deps: ProxyDeps): Promise<void> {
  app.decorateRequest('forward', null)

  const ctxOf = (request: FastifyRequest): Forward => {
    if (request.forward === null) throw new GatehouseError('GH_INTERNAL', 'proxying a request the guard did not allow')
    return request.forward
  }

  // Request bodies go to the upstream byte for byte: in the proxy's scope no
  // parser of the gateway's own (JSON, text, forms) may read or re-encode them.
  await app.register(async (scope) => {
    scope.removeContentTypeParser(['application/json', 'text/plain'])
    await registerHttpProxy(scope, deps, ctxOf)
  })
}

async function registerHttpProxy (app: FastifyInstance, deps: ProxyDeps, ctxOf: (request: FastifyRequest) => Forward): Promise<void> {
  const { config, gatewayCookies, guard, refuse, upstreamChallenge } = deps
  const onUpstreamResponse = deps.onUpstreamResponse ?? (() => {})
  // reply.from's options per upstream and timeout (one per route), made once: the plugin's own
  // options object is large, and copying it for every request showed in the profile.
  const replyOptionsFor = new Map<string, object>()
  // Only for requests with upstreamStepUp: every other response streams to the client as reply-from sends it.
  const onChallengeable = (anyRequest: unknown, anyReply: unknown, res: UpstreamResponse): void => {
    const request = anyRequest as FastifyRequest
    const reply = anyReply as FastifyReply
    const header = res.headers['www-authenticate']
    if (res.statusCode !== 401 || header === undefined) {
      reply.send(res.stream)
      return
    }
    upstreamChallenge(request, header).then(async answer => {
      if (answer === undefined) return reply.send(res.stream)
      // The upstream's body is read and dropped (the connection stays usable); its headers, already
      // copied to the reply, make way for the gateway's answer.
      res.stream.resume()
      for (const name of Object.keys(res.headers)) reply.removeHeader(name)
      return await answer(reply)
    }).catch((err: unknown) => {
      res.stream.destroy()
      refuse(request, reply, err instanceof GatehouseError ? err : new GatehouseError('GH_INTERNAL', 'answering an upstream challenge failed', { cause: err }))
    })
  }
  await app.register(httpProxy, {
    upstream: '',
    prefix: '/',
    websocket: true,
    // The route decides how long the upstream may take.
    handler: (request, reply, dest, options) => {
      const forward = ctxOf(request as FastifyRequest)
      forward.sentAt = performance.now()
      withBodyDeadline(request as FastifyRequest, forward.timeoutMs)
      const stepUp = forward.upstreamStepUp !== undefined
      const key = `${stepUp ? 's' : ''}${forward.timeoutMs} ${forward.upstream}`
      let replyOptions = replyOptionsFor.get(key)
      if (replyOptions === undefined) {
        const upstream = forward.upstream
        replyOptions = { ...options, getUpstream: () => upstream, timeout: forward.timeoutMs, ...(stepUp ? { onResponse: onChallengeable } : {}) }
        if (replyOptionsFor.size < REPLY_OPTIONS_MAX) replyOptionsFor.set(key, replyOptions)
      }
      return reply.from(dest, replyOptions)
    },
    preHandler (request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void) {
      guard(request, reply).then(allowed => { if (allowed) done() }, done)
    },
    undici: {
      connections: 128,
      pipelining: 1,
      keepAliveTimeout: 4000,
      headersTimeout: config.upstream.timeoutMs,
      bodyTimeout: config.upstream.timeoutMs,
      connect: { timeout: config.upstream.connectTimeoutMs },
    },
    replyOptions: {
      getUpstream: (request: unknown) => ctxOf(request as FastifyRequest).upstream,
      // Never retried: by default a GET answered 503 is sent again up to ten times, each after the
      // upstream's Retry-After read as milliseconds, holding the client far past the route's timeout
      // and multiplying the load on an upstream that said it is overloaded. The 503 goes to the client.
      retryDelay: () => null,
      rewriteRequestHeaders: (request: unknown) => upstreamRequestHeaders((request as FastifyRequest).headers, ctxOf(request as FastifyRequest), gatewayCookies) as IncomingHttpHeaders,
      rewriteHeaders: (headers: IncomingHttpHeaders, request: unknown) => {
        const forward = (request as FastifyRequest).forward
        if (forward !== null) onUpstreamResponse(request as FastifyRequest, (performance.now() - forward.sentAt) / 1000)
        return upstreamResponseHeaders(headers, gatewayCookies)
      },
      onError: (anyReply, { error }: { error: Error & { statusCode?: number } }) => {
        const reply = anyReply as FastifyReply
        if (bodyTimedOut(reply.request)) {
          // The rest of the body is never read: the connection ends with this answer.
          reply.request.log.warn({ err: { code: 'GH_REQUEST_TIMEOUT' } }, 'request body too slow; upstream request aborted')
          refuse(reply.request, reply, new GatehouseError('GH_REQUEST_TIMEOUT', causeOf(error)), { connection: 'close' })
          return
        }
        const timeout = error.statusCode === 504
        const err = new GatehouseError(timeout ? 'GH_UPSTREAM_TIMEOUT' : 'GH_UPSTREAM_UNAVAILABLE', causeOf(error), { cause: error })
        reply.request.log.warn({ event: 'upstream.failed', err: { code: err.code, detail: err.detail } }, 'upstream request failed')
        refuse(reply.request, reply, err)
      },
    },
    // Not in the plugin's types, but read by it: the ws client's handshake headers.
    wsClientOptions: {
      rewriteRequestHeaders: (_headers: unknown, request: unknown) => upstreamWebSocketHeaders((request as FastifyRequest).headers, ctxOf(request as FastifyRequest), gatewayCookies),
    } as ClientOptions,
  })
}

/** The upstream's response as reply-from's onResponse gets it. */
interface UpstreamResponse { statusCode: number, headers: IncomingHttpHeaders, stream: Readable }

/** Bound on the remembered reply options: one per distinct upstream and timeout, which policies fix. */
const REPLY_OPTIONS_MAX = 10_000

function causeOf (error: Error): string {
  const cause = (error as { cause?: { code?: string, message?: string } }).cause
  return cause?.code ?? cause?.message ?? error.message
}
