import type { FastifyInstance } from 'fastify'
import { FRONTCHANNEL_LOGOUT_PATH } from '../endpoints.js'
import { GatehouseError } from '../errors.js'
import { auditRequest } from '../log/audit.js'
import type { FrontchannelLogout } from '../signin/frontchannel-logout.js'
import { sendError } from './respond.js'

/** What the IdP's iframe shows: nothing to see, nothing to run. */
const ENDED_PAGE = '<!doctype html><meta charset="utf-8"><title>Signed out</title>'

/**
 * The front-channel logout endpoint. Unlike every other page of the gateway it
 * may be framed, by the IdP's origin only (CSP frame-ancestors; no
 * X-Frame-Options, which cannot name an origin), and it reads no cookie.
 */
export function registerFrontchannelLogout (app: FastifyInstance, logout: FrontchannelLogout): void {
  app.get(FRONTCHANNEL_LOGOUT_PATH, async (request, reply) => {
    const query = request.query as Record<string, unknown>
    // Before anything ends: without the IdP's metadata there is no origin to allow (503, the IdP retries).
    const frameAncestor = logout.frameAncestor()
    const result = await logout.handle(query.iss, query.sid, auditRequest(request))
    if (!result.ok) {
      request.log.warn({ reason: result.error }, 'front-channel logout refused')
      return sendError(request, reply, new GatehouseError('GH_LOGOUT_REQUEST_INVALID', result.error))
    }
    reply.header('cache-control', 'no-store')
    reply.header('x-content-type-options', 'nosniff')
    reply.header('referrer-policy', 'no-referrer')
    reply.header('content-security-policy', `default-src 'none'; frame-ancestors ${frameAncestor}`)
    return reply.type('text/html; charset=utf-8').send(ENDED_PAGE)
  })
}
