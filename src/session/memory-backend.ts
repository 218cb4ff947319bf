import { randomBytes } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import type { SessionBackend, SessionIndex } from './backend.js'

const DEFAULT_MAX_ENTRIES = 100_000

/**
 * In-process backend for the demo and a single instance. lru-cache gives a
 * bounded size and per-entry TTL; indexes are kept in step on write and
 * filtered on read.
 */
export class MemoryBackend implements SessionBackend {
  readonly kind = 'memory'
  /** One process: nothing else changes the sessions. */
  readonly sessionCache = 'exact'
  readonly available = true
  readonly #sessions: LRUCache<string, string>
  readonly #index = new Map<string, Set<string>>()
  readonly #once: LRUCache<string, true>
  readonly #values: LRUCache<string, string>
  readonly #locks = new Map<string, { token: string, until: number }>()

  constructor (maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#sessions = new LRUCache({ max: maxEntries })
    this.#once = new LRUCache({ max: maxEntries })
    this.#values = new LRUCache({ max: maxEntries })
  }

  async get (id: string): Promise<string | undefined> {
    return this.#sessions.get(id)
  }

  async set (id: string, value: string, ttlMs: number, index: SessionIndex, opts: { onlyIfExists?: boolean } = {}): Promise<boolean> {
    if (opts.onlyIfExists === true && !this.#sessions.has(id)) return false
    this.#sessions.set(id, value, { ttl: Math.max(1, ttlMs) })
    for (const key of indexKeys(index)) {
      const set = this.#index.get(key) ?? new Set<string>()
      set.add(id)
      this.#index.set(key, set)
    }
    return true
  }

  async getValue (key: string): Promise<string | undefined> {
    return this.#values.get(key)
  }

  async setValue (key: string, value: string, ttlMs: number): Promise<void> {
    this.#values.set(key, value, { ttl: Math.max(1, ttlMs) })
  }

  async delete (id: string, index?: SessionIndex): Promise<void> {
    this.#sessions.delete(id)
    if (index !== undefined) for (const key of indexKeys(index)) this.#index.get(key)?.delete(id)
  }

  async idsBy (kind: 'user' | 'idpSession', value: string): Promise<string[]> {
    const key = `${kind}:${value}`
    const ids = [...(this.#index.get(key) ?? [])]
    const live = ids.filter(id => this.#sessions.has(id))
    if (live.length !== ids.length) this.#index.set(key, new Set(live))
    return live
  }

  async allIds (): Promise<string[]> {
    return [...this.#sessions.keys()]
  }

  async claimOnce (key: string, ttlMs: number): Promise<boolean> {
    if (this.#once.has(key)) return false
    this.#once.set(key, true, { ttl: Math.max(1, ttlMs) })
    return true
  }

  async lock (key: string, ttlMs: number): Promise<string | undefined> {
    const now = Date.now()
    const held = this.#locks.get(key)
    if (held !== undefined && held.until > now) return undefined
    const token = randomBytes(8).toString('hex')
    this.#locks.set(key, { token, until: now + ttlMs })
    return token
  }

  async unlock (key: string, token: string): Promise<void> {
    if (this.#locks.get(key)?.token === token) this.#locks.delete(key)
  }

  async renew (key: string, token: string, ttlMs: number): Promise<boolean> {
    const held = this.#locks.get(key)
    if (held?.token !== token || held.until <= Date.now()) return false
    held.until = Date.now() + ttlMs
    return true
  }

  /** No other gateway shares an in-memory backend: nobody to tell. */
  async publish (_ids: readonly string[]): Promise<void> {}

  subscribe (_listener: (ids: readonly string[] | undefined) => void): void {}

  async ping (): Promise<void> {}

  async connected (_timeoutMs: number): Promise<void> {}

  async close (): Promise<void> {
    this.#sessions.clear()
    this.#once.clear()
    this.#index.clear()
  }
}

function indexKeys (index: SessionIndex): string[] {
  const keys: string[] = []
  if (index.user !== undefined) keys.push(`user:${index.user}`)
  if (index.idpSession !== undefined) keys.push(`idpSession:${index.idpSession}`)
  return keys
}
