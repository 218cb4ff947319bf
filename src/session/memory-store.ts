import { LRUCache } from 'lru-cache'
import type { SessionStore } from './store.js'

const DEFAULT_MAX_ENTRIES = 100_000

/**
 * In-process store for the demo and single-instance use. Values are kept as
 * JSON text so that callers never share mutable objects with the store, as
 * with Redis. lru-cache gives bounded size and per-entry TTL.
 */
export class MemorySessionStore implements SessionStore {
  readonly kind = 'memory'
  readonly #sessions: LRUCache<string, string>
  readonly #once: LRUCache<string, true>

  constructor (maxEntries = DEFAULT_MAX_ENTRIES) {
    this.#sessions = new LRUCache({ max: maxEntries, ttlAutopurge: false })
    this.#once = new LRUCache({ max: maxEntries, ttlAutopurge: false })
  }

  async get (id: string): Promise<Record<string, unknown> | undefined> {
    const text = this.#sessions.get(id)
    return text === undefined ? undefined : JSON.parse(text) as Record<string, unknown>
  }

  async set (id: string, value: object, ttlMs: number): Promise<void> {
    this.#sessions.set(id, JSON.stringify(value), { ttl: Math.max(1, ttlMs) })
  }

  async destroy (id: string): Promise<void> {
    this.#sessions.delete(id)
  }

  async claimOnce (key: string, ttlMs: number): Promise<boolean> {
    if (this.#once.has(key)) return false
    this.#once.set(key, true, { ttl: Math.max(1, ttlMs) })
    return true
  }

  async ping (): Promise<void> {}

  async close (): Promise<void> {
    this.#sessions.clear()
    this.#once.clear()
  }
}
