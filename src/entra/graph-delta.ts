import type { EntraSettings } from '../config/types.js'
import type { GraphFetch } from './graph-groups.js'
import { retryAfterMs } from './retry-after.js'

/** At most this many pages in one round (a first round reads the whole directory, a page or two after). */
const MAX_PAGES = 5_000

/** One object of a delta page: `id`, the properties asked for that changed, `@removed` when it went. */
export type DeltaEntry = Readonly<Record<string, unknown>>

export type DeltaRound =
  | { readonly ok: true, readonly deltaLink: string, readonly entries: number }
  /** `throttled`: Graph asks to wait (`retryAfterMs`, when it says how long); `expired`: the delta link is too old, start over. */
  | { readonly ok: false, readonly reason: string, readonly throttled?: boolean, readonly retryAfterMs?: number | undefined, readonly expired?: boolean }

export interface DeltaRoundHooks {
  /** Before each page: false stops the round (the poller lost its lock). */
  beforePage: () => Promise<boolean>
  /** Each page's objects, in order; a throw ends the round. */
  onPage: (entries: readonly DeltaEntry[]) => Promise<void>
}

/**
 * Reads Microsoft Graph delta queries (`users/delta`, `groups/delta`) with
 * the gateway's own application token: every `@odata.nextLink` page from a
 * start URL (the first query, or the delta link of the last round) to the
 * next `@odata.deltaLink`. Failures are results, never throws: the poller
 * logs them, counts them, and tries again.
 */
export class GraphDelta {
  readonly #settings: EntraSettings
  readonly #origin: string
  readonly #token: () => Promise<string>
  readonly #fetch: GraphFetch

  constructor (settings: EntraSettings, token: () => Promise<string>, opts: { fetch?: GraphFetch } = {}) {
    this.#settings = settings
    this.#origin = new URL(settings.graphUrl).origin
    this.#token = token
    this.#fetch = opts.fetch ?? ((url, init) => fetch(url, init))
  }

  /** The first query of a resource, e.g. `users/delta?$select=id,accountEnabled`. */
  url (pathAndQuery: string): string {
    return `${this.#settings.graphUrl}/${pathAndQuery}`
  }

  /** Whether a stored link still leads to this gateway's Graph (graph_url may have changed since). */
  isOwn (link: string): boolean {
    return URL.parse(link)?.origin === this.#origin
  }

  async round (start: string, hooks: DeltaRoundHooks): Promise<DeltaRound> {
    let url = start
    let entries = 0
    for (let page = 0; page < MAX_PAGES; page++) {
      if (!await hooks.beforePage()) return { ok: false, reason: 'the directory watch lock was lost' }
      const answer = await this.#page(url)
      if (!answer.ok) return answer
      await hooks.onPage(answer.value)
      entries += answer.value.length
      if (answer.deltaLink !== undefined) return { ok: true, deltaLink: answer.deltaLink, entries }
      url = answer.nextLink
    }
    return { ok: false, reason: `more than ${MAX_PAGES} pages` }
  }

  async #page (url: string): Promise<{ ok: true, value: DeltaEntry[], nextLink: string, deltaLink?: undefined } | { ok: true, value: DeltaEntry[], deltaLink: string } | Extract<DeltaRound, { ok: false }>> {
    let token: string
    try {
      token = await this.#token()
    } catch (err) {
      return { ok: false, reason: `no application token: ${(err as Error).message}` }
    }
    let response: Response
    try {
      response = await this.#fetch(url, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
        redirect: 'error',
        signal: AbortSignal.timeout(this.#settings.graphTimeoutMs),
      })
    } catch (err) {
      const e = err as { name?: string, message?: string }
      return { ok: false, reason: e.name === 'TimeoutError' ? `no answer within ${this.#settings.graphTimeoutMs} ms` : `cannot reach Graph: ${e.message ?? String(err)}` }
    }
    if (response.status === 429 || response.status === 503) {
      await response.body?.cancel()
      return { ok: false, reason: `Graph is throttling (HTTP ${response.status})`, throttled: true, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) }
    }
    let body: unknown
    try {
      body = await response.json()
    } catch {
      return { ok: false, reason: `HTTP ${response.status} with a body that is not JSON` }
    }
    if (!response.ok) {
      const code = (body as { error?: { code?: unknown } } | null)?.error?.code
      const named = typeof code === 'string' ? ` ${code.slice(0, 80)}` : ''
      // 410 Gone (syncStateNotFound, resyncRequired): the delta link cannot be used any more.
      return { ok: false, reason: `HTTP ${response.status}${named}`, expired: response.status === 410 }
    }
    const record = (body ?? {}) as Record<string, unknown>
    const value = record.value
    if (!Array.isArray(value) || !value.every(v => v !== null && typeof v === 'object' && !Array.isArray(v))) return { ok: false, reason: 'the answer has no list of objects' }
    const deltaLink = record['@odata.deltaLink']
    const nextLink = record['@odata.nextLink']
    // The application token goes with the next request: the links must lead to Graph itself.
    if (typeof nextLink === 'string' && this.isOwn(nextLink)) return { ok: true, value: value as DeltaEntry[], nextLink }
    if (typeof deltaLink === 'string' && this.isOwn(deltaLink)) return { ok: true, value: value as DeltaEntry[], deltaLink }
    return { ok: false, reason: 'a page with neither a next page nor a delta link on Graph' }
  }
}
