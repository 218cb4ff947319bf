import type { FastifyReply, FastifyRequest } from 'fastify'
import { GatehouseError } from '../errors.js'
import { escapeHtml, PageRenderer } from './html.js'
import { isNavigation } from '../pipeline/request.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** The gateway's page renderer (branding), set once at start-up. */
    pages: PageRenderer
  }
}

const FALLBACK_PAGES = new PageRenderer()

/** The renderer of the gateway a request belongs to. */
export function pagesOf (request: FastifyRequest): PageRenderer {
  return (request.server as { pages?: PageRenderer }).pages ?? FALLBACK_PAGES
}

export { isNavigation } from '../pipeline/request.js'

/** Headers on every response the gateway writes itself (never on proxied ones). */
export function setPageHeaders (reply: FastifyReply, formTargets: readonly string[] = []): void {
  const pages = pagesOf(reply.request)
  reply.header('cache-control', 'no-store')
  reply.header('x-content-type-options', 'nosniff')
  reply.header('referrer-policy', 'same-origin')
  reply.header('x-frame-options', 'DENY')
  reply.header('content-security-policy', pages.csp(formTargets))
}

export interface ErrorPageExtras {
  /** Extra trusted HTML under the message (links, buttons). */
  actionsHtml?: string
  /** Extra sentence, already plain text. */
  hint?: string
  /** Extra JSON fields for API clients. */
  json?: Record<string, unknown>
  headers?: Record<string, string | string[]>
  /** Overrides the error's status (e.g. 413 from the framework). */
  status?: number
  /** A whole page body (trusted HTML) instead of the generic one. */
  bodyHtml?: string
  /** The page's heading and title, instead of the one its status gives. */
  title?: string
}

/** Answers with an error as an HTML page (navigation) or JSON with a stable code (everything else). */
export function sendError (request: FastifyRequest, reply: FastifyReply, err: GatehouseError, extras: ErrorPageExtras = {}): FastifyReply {
  reply.code(extras.status ?? err.statusCode)
  for (const [k, v] of Object.entries(extras.headers ?? {})) reply.header(k, v)
  setPageHeaders(reply)
  if (isNavigation(request) && request.method !== 'HEAD') {
    const title = extras.title ?? titleFor(extras.status ?? err.statusCode)
    if (extras.bodyHtml !== undefined) return reply.type('text/html; charset=utf-8').send(pagesOf(request).render({ title, body: extras.bodyHtml }))
    const body = `<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(err.publicMessage)}</p>
${extras.hint === undefined ? '' : `<p>${escapeHtml(extras.hint)}</p>`}
${extras.actionsHtml === undefined ? '' : `<div class="actions">${extras.actionsHtml}</div>`}
<p class="muted">Error <code>${escapeHtml(err.code)}</code> · request <code class="id">${escapeHtml(String(request.id))}</code></p>`
    return reply.type('text/html; charset=utf-8').send(pagesOf(request).render({ title, body }))
  }
  return reply.type('application/json; charset=utf-8').send({
    error: { code: err.code, message: err.publicMessage, ...(extras.hint === undefined ? {} : { hint: extras.hint }), request_id: request.id, ...extras.json },
  })
}

function titleFor (status: number): string {
  switch (status) {
    case 400: return 'Bad request'
    case 401: return 'Sign-in required'
    case 403: return 'Access denied'
    case 404: return 'Not found'
    case 502: return 'Application unavailable'
    case 503: return 'Temporarily unavailable'
    case 504: return 'Application timed out'
    default: return status < 500 ? 'Bad request' : 'Something went wrong'
  }
}
