import type { EntraSettings } from '../config/types.js'
import { GatehouseError } from '../errors.js'
import { retryAfterMs } from './retry-after.js'

/** At most this many pages are followed (999 groups a page). */
const MAX_PAGES = 50
/** A 429/503 with a Retry-After up to this long is waited out (twice at most); longer ones fail at once. */
const MAX_RETRY_WAIT_MS = 5_000
const MAX_RETRIES = 2

export interface GraphFetch {
  (url: string, init: RequestInit): Promise<Response>
}

/**
 * Reads a user's group memberships from Microsoft Graph with the user's own
 * access token: `GET /me/transitiveMemberOf/microsoft.graph.group`, every
 * page (`@odata.nextLink`). Direct and nested memberships count, as they do
 * in the token's groups claim. Any failure throws GH_GROUPS_UNAVAILABLE: the
 * caller fails closed, it never goes on with fewer or stale groups.
 */
export class GraphGroups {
  readonly #settings: EntraSettings
  readonly #origin: string
  readonly #fetch: GraphFetch
  readonly #sleep: (ms: number) => Promise<void>

  constructor (settings: EntraSettings, opts: { fetch?: GraphFetch, sleep?: (ms: number) => Promise<void> } = {}) {
    this.#settings = settings
    this.#origin = new URL(settings.graphUrl).origin
    this.#fetch = opts.fetch ?? ((url, init) => fetch(url, init))
    this.#sleep = opts.sleep ?? (ms => new Promise(resolve => setTimeout(resolve, ms)))
  }

  /** Lower-case object ids of every group the token's user belongs to. */
  async groupIds (accessToken: string): Promise<string[]> {
    const ids = new Set<string>()
    let url: string | undefined = `${this.#settings.graphUrl}/me/transitiveMemberOf/microsoft.graph.group?$select=id&$top=999`
    for (let page = 0; url !== undefined; page++) {
      if (page === MAX_PAGES) throw unavailable(`more than ${MAX_PAGES} pages of groups`)
      const body = await this.#page(url, accessToken)
      for (const entry of body.value) ids.add(entry.id.toLowerCase())
      url = body.next
    }
    return [...ids]
  }

  async #page (url: string, accessToken: string): Promise<{ value: Array<{ id: string }>, next: string | undefined }> {
    for (let attempt = 0; ; attempt++) {
      let response: Response
      try {
        response = await this.#fetch(url, {
          headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' },
          redirect: 'error',
          signal: AbortSignal.timeout(this.#settings.graphTimeoutMs),
        })
      } catch (err) {
        const e = err as { name?: string, message?: string }
        throw unavailable(e.name === 'TimeoutError' ? `no answer within ${this.#settings.graphTimeoutMs} ms` : `cannot reach Graph: ${e.message ?? String(err)}`, err)
      }
      if (response.status === 429 || response.status === 503) {
        const waitMs = retryAfterMs(response.headers.get('retry-after'))
        await response.body?.cancel()
        if (attempt < MAX_RETRIES && waitMs !== undefined && waitMs <= MAX_RETRY_WAIT_MS) {
          await this.#sleep(waitMs)
          continue
        }
        throw unavailable(`Graph is throttling (HTTP ${response.status}${waitMs === undefined ? '' : `, retry after ${Math.ceil(waitMs / 1000)} s`})`)
      }
      let body: unknown
      try {
        body = await response.json()
      } catch {
        throw unavailable(`HTTP ${response.status} with a body that is not JSON`)
      }
      if (!response.ok) {
        const code = (body as { error?: { code?: unknown } } | null)?.error?.code
        throw unavailable(`HTTP ${response.status}${typeof code === 'string' ? ` ${code.slice(0, 80)}` : ''}`)
      }
      return this.#parse(body)
    }
  }

  #parse (body: unknown): { value: Array<{ id: string }>, next: string | undefined } {
    const value = (body as { value?: unknown } | null)?.value
    if (!Array.isArray(value) || !value.every(v => v !== null && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string')) {
      throw unavailable('the answer has no list of groups')
    }
    const next = (body as Record<string, unknown>)['@odata.nextLink']
    if (next === undefined || next === null) return { value: value as Array<{ id: string }>, next: undefined }
    // The next page must come from Graph itself: the user's token goes with it.
    if (typeof next !== 'string' || URL.parse(next)?.origin !== this.#origin) throw unavailable('a next page link that leads away from Graph')
    return { value: value as Array<{ id: string }>, next }
  }
}

function unavailable (detail: string, cause?: unknown): GatehouseError {
  return new GatehouseError('GH_GROUPS_UNAVAILABLE', `Microsoft Graph: ${detail}`, { cause })
}
