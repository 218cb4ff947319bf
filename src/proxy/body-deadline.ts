import type { IncomingMessage } from 'node:http'
import { PassThrough } from 'node:stream'
import type { FastifyRequest } from 'fastify'
import { GatehouseError } from '../errors.js'

const timedOut = new WeakSet<IncomingMessage>()

/** Whether this request's body missed its deadline (see withBodyDeadline). */
export function bodyTimedOut (request: FastifyRequest): boolean {
  return timedOut.has(request.raw)
}

/**
 * A request body is streamed to the upstream while it arrives, so a client
 * that sends it a byte at a time holds a connection to the upstream for as
 * long as it likes, and enough of them take every connection there is. The
 * body must have arrived within `ms` of being forwarded: otherwise the
 * upstream request is aborted (its connection is freed) and the request is
 * marked, for the proxy's error handler to answer 408.
 */
export function withBodyDeadline (request: FastifyRequest, ms: number): void {
  const raw = request.raw
  // Only a body still arriving, and only the body the proxy was going to stream (the raw request).
  if (raw.complete || request.body !== raw) return
  const body = new PassThrough()
  raw.pipe(body)
  request.body = body
  const timer = setTimeout(() => {
    if (raw.complete) return
    timedOut.add(raw)
    raw.unpipe(body)
    body.destroy(new GatehouseError('GH_REQUEST_TIMEOUT', `request body not received within ${ms} ms`))
  }, ms)
  const clear = (): void => { clearTimeout(timer) }
  raw.once('end', clear)
  raw.once('close', clear)
}
