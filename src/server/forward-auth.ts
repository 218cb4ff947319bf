import type { FastifyInstance } from 'fastify'
import { FORWARD_AUTH_PATH } from '../endpoints.js'
import { GatehouseError } from '../errors.js'
import { refusal } from '../pipeline/answer.js'
import { forwardAuthChallenge } from '../pipeline/challenges.js'
import { exactIdentityHeaderNames, gatewayIdentityHeaders, gatewayIdentityHeaderNames } from '../proxy/forward-headers.js'
import { otherSpellingsOfReserved } from '../proxy/identity-headers.js'
import { safeReturnPath } from '../signin/return-to.js'
import { authorizeOrAnswer, downstreamOrAnswer, type RequestSteps } from './request-steps.js'
import { sendAnswer } from './send-answer.js'

/**
 * `/.gatehouse/auth`: a proxy in front (nginx auth_request, Traefik
 * forwardAuth, Envoy ext_authz) asks whether a request may pass. The request
 * was routed by the one it describes (see routeRequest), and is identified
 * and decided exactly as a proxied request is; the answer is
 *
 * - 200 with the identity headers and the signed assertion, for the proxy to
 *   copy upstream (no identity on public routes), and the names of those it
 *   does not set in `x-envoy-auth-headers-to-remove`;
 * - 401 with `Location` and `login_url` naming the gateway's sign-in, with
 *   the original path as the return target; or a 302 there for browser
 *   navigations when the proxy passes the answer on to the browser
 *   (`?redirect=true`, and always in path form);
 * - 403 when denied, whatever the reason; also when the request carries an
 *   identity header under a spelling other than the gateway's (such as
 *   `x.gatehouse.user` or `Remote_User`): the proxy replaces headers by their
 *   exact name only, so the client's value would reach the upstream.
 */
export function registerForwardAuth (app: FastifyInstance, steps: RequestSteps): void {
  // The body of the request being checked is none of the gateway's business: never parsed, never limited.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume()
    done(null)
  })

  app.all(FORWARD_AUTH_PATH, async (request, reply) => {
    const forwardAuth = request.forwardAuth
    if (forwardAuth === null) throw new GatehouseError('GH_INTERNAL', 'forward-auth request was not routed')
    const { routed, original, redirect } = forwardAuth
    reply.header('cache-control', 'no-store')
    const spellings = otherSpellingsOfReserved(request.headers, exactIdentityHeaderNames(routed.policy.routes), routed.policy.reservedHeaders)
    if (spellings.length > 0) {
      request.log.warn({ route: routed.route.name, headers: spellings }, 'forward-auth: identity header under another spelling refused')
      return await sendAnswer(request, reply, refusal(new GatehouseError('GH_FORWARD_AUTH_RESERVED_HEADER', spellings.join(', ')), { json: { reason: 'reserved_header' } }), steps.signin)
    }
    const { canonical } = routed
    const returnTo = safeReturnPath(canonical.query === '' ? canonical.path : `${canonical.path}?${canonical.query}`, steps.config.publicUrl)
    const outcome = await authorizeOrAnswer(request, reply, routed, () => returnTo, steps)
    if (outcome === undefined) return reply
    if (outcome.kind !== 'allow') return await sendAnswer(request, reply, forwardAuthChallenge(request, original.method, redirect, returnTo, steps.config.publicUrl, outcome.kind === 'step_up' ? outcome.need : undefined), steps.signin)
    const downstream = await downstreamOrAnswer(request, reply, routed, outcome.caller, returnTo, steps)
    if (downstream === undefined) return reply
    const headers = gatewayIdentityHeaders({ ...await steps.upstreamIdentity.context(request.log, routed, outcome.decision, outcome.caller), downstream: downstream.kind === 'token' ? downstream.value : undefined })
    // Envoy adds the headers it is told to copy but leaves a client's copies of the others in place: it removes those named here.
    const absent = gatewayIdentityHeaderNames(routed.route.headers).filter(name => !(name in headers))
    if (absent.length > 0) headers['x-envoy-auth-headers-to-remove'] = absent.join(', ')
    request.log.debug({ route: routed.route.name, method: original.method, path: canonical.path, user: outcome.decision.identity?.id }, 'forward-auth: allowed')
    return reply.code(200).headers(headers).send()
  })
}
