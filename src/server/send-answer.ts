import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Answer, PageSpec } from '../pipeline/answer.js'
import type { SigninFlow } from '../signin/signin-flow.js'
import { escapeHtml } from './html.js'
import { accessDeniedBody, idpErrorWords } from './pages.js'
import { sendError, type ErrorPageExtras } from './respond.js'

/** Sends an answer the pipeline decided on: a redirect to the IdP or elsewhere, or an error page / JSON. */
export async function sendAnswer (request: FastifyRequest, reply: FastifyReply, answer: Answer, signin: SigninFlow): Promise<FastifyReply> {
  switch (answer.kind) {
    case 'signin': return await signin.redirectToIdp(request, reply, answer.returnTo, undefined, { consent: answer.consent, stepUp: answer.stepUp })
    case 'redirect': return reply.redirect(answer.location, 302)
    case 'error': {
      const { error, page, kind: _kind, ...extras } = answer
      return sendError(request, reply, error, { ...extras, ...(page === undefined ? {} : pageExtras(page, String(request.id))) })
    }
  }
}

/** The HTML (and, for a failed sign-in, the hint) of a page the pipeline described. */
function pageExtras (page: PageSpec, requestId: string): ErrorPageExtras {
  switch (page.kind) {
    case 'access_denied': return { bodyHtml: accessDeniedBody({ ...page, requestId }) }
    case 'action': return { actionsHtml: `<a class="button" href="${escapeHtml(page.href)}">${escapeHtml(page.label)}</a>` }
    case 'signin_failed': {
      const idp = page.idp
      return {
        // Whatever the status (400 for what the browser brought, 502 for the token endpoint), the person's sign-in failed.
        title: 'Sign-in failed',
        actionsHtml: `<a class="button" href="${escapeHtml(page.retryPath)}">Try again</a>`,
        ...(idp === undefined ? {} : { hint: `${idpErrorWords(idp.error, idp.description)}${idp.description === undefined ? '' : ` The identity provider said: "${idp.description}".`} (${idp.error ?? 'error'})` }),
      }
    }
  }
}
