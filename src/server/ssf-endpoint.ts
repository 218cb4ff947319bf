import type { FastifyInstance } from 'fastify'
import { SSF_EVENTS_PATH } from '../endpoints.js'
import { auditRequest } from '../log/audit.js'
import type { SsfReceiver } from '../signals/ssf-receiver.js'

/** A SET is a few kilobytes; a push larger than this is refused before it is read (413). */
const MAX_SET_BYTES = 64 * 1024
/** Seconds a transmitter is asked to wait before pushing again a SET whose keys could not be fetched. */
const KEYS_RETRY_AFTER_S = 30

/**
 * Push delivery of security events (RFC 8935): `POST` with the SET as an
 * `application/secevent+jwt` body and the transmitter's bearer secret. 202
 * when accepted (also for events the gateway does not act on), 400 with
 * `{ err, description }` when the SET is refused, 401 without a known bearer
 * secret, checked before the body is read, and 503 with `Retry-After` when
 * the transmitter's keys cannot be fetched (the SET is not judged and its
 * `jti` not used up: the transmitter pushes it again).
 */
export function registerSsfEndpoint (app: FastifyInstance, receiver: SsfReceiver): void {
  app.addContentTypeParser(['application/secevent+jwt', 'application/jwt'], { parseAs: 'string', bodyLimit: MAX_SET_BYTES }, (_request, body, done) => { done(null, body) })
  app.post(SSF_EVENTS_PATH, {
    bodyLimit: MAX_SET_BYTES,
    onRequest: async (request, reply) => {
      if (receiver.authenticated(request.headers.authorization)) return
      request.log.warn('security event push without a known bearer secret refused')
      return await reply.code(401).header('www-authenticate', 'Bearer').header('cache-control', 'no-store').send({ err: 'authentication_failed', description: 'the bearer secret is not a configured transmitter\'s' })
    },
  }, async (request, reply) => {
    reply.header('cache-control', 'no-store')
    if (typeof request.body !== 'string') return await reply.code(400).send({ err: 'invalid_request', description: 'the body must be a SET (Content-Type: application/secevent+jwt)' })
    const result = await receiver.receive(request.headers.authorization, request.body.trim(), auditRequest(request))
    if (result.ok) return await reply.code(202).send()
    request.log.warn({ err: result.err, reason: result.description }, result.err === 'temporarily_unavailable' ? 'security event not judged: the transmitter\'s keys could not be fetched' : 'security event refused')
    if (result.err === 'temporarily_unavailable') reply.code(503).header('retry-after', String(KEYS_RETRY_AFTER_S))
    else reply.code(400)
    return await reply.send({ err: result.err, description: result.description })
  })
}
