import { LRUCache } from 'lru-cache'
import type { Logger } from '../log/logger.js'
import type { SessionBackend, SessionIndex } from './backend.js'
import type { SessionCipher } from './session-cipher.js'
import type { SessionRecord } from './session-data.js'
import { SessionTokens, type TokenSet } from './session-tokens.js'
import { deepFreeze } from '../deep-freeze.js'

/**
 * What a gateway learns about sessions it may be holding on to (open WebSockets):
 * `ended` here (deleted through this store), or `changed` elsewhere (written or
 * deleted by another gateway, or by Redis itself); `ids` undefined: any of them
 * may have changed (changes may have been missed).
 */
export type SessionChange =
  | { readonly kind: 'ended', readonly ids: readonly string[] }
  | { readonly kind: 'changed', readonly ids: readonly string[] | undefined }

export interface SessionStoreOptions {
  backend: SessionBackend
  cipher: SessionCipher
  /** How long a decrypted session may be served from memory without asking the backend. */
  cacheTtlMs: number
  cacheMax: number
  /** Bound on the decrypted sessions kept in memory, counted as the length of their JSON text. */
  cacheMaxBytes?: number
  log: Logger
}

/**
 * Sessions as the gateway uses them: encrypted at rest, cached in memory for
 * a short time so steady-state requests make no round trip, and dropped from
 * every gateway's cache through the backend's pub/sub when one gateway
 * changes or deletes them (revocation reaches all replicas in milliseconds;
 * a reconnect of the subscriber clears the whole cache). Where the backend
 * reports every change to a session's key (Redis client-side caching,
 * `backend.sessionCache` exact), changes made outside the gateway drop it
 * too; elsewhere the cache TTL is the bound. Whoever holds on to a session beyond a
 * request (open WebSockets) listens for its end with `onChange`. The cache is bounded by count and by
 * size, and entries past their TTL are dropped every TTL, so memory follows
 * the sessions in use now, not every session seen since the start.
 */
export class SessionStore {
  readonly backend: SessionBackend
  readonly #cipher: SessionCipher
  readonly #cache: LRUCache<string, SessionRecord>
  readonly #log: Logger
  readonly #purge: NodeJS.Timeout
  /** Reads in flight: requests that arrive together for one uncached session share one backend read. */
  readonly #loading = new Map<string, Promise<SessionRecord | undefined>>()
  /** Bumped whenever sessions change or are dropped: a read begun before must not cache what it got. */
  #generation = 0
  /** When this gateway last began writing back a session's last-seen time. */
  readonly #touches = new LRUCache<string, number>({ max: 10_000 })
  readonly #changeListeners: Array<(change: SessionChange) => void> = []
  #hits = 0
  #misses = 0

  constructor (opts: SessionStoreOptions) {
    this.backend = opts.backend
    this.#cipher = opts.cipher
    this.#log = opts.log.child({ module: 'sessions' })
    const ttl = Math.max(1, opts.cacheTtlMs)
    this.#cache = new LRUCache({ max: opts.cacheMax, maxSize: opts.cacheMaxBytes ?? DEFAULT_CACHE_MAX_BYTES, ttl })
    this.#purge = setInterval(() => { this.#cache.purgeStale() }, Math.max(1000, ttl))
    this.#purge.unref()
    this.backend.subscribe(ids => {
      this.#drop(ids)
      this.#tell({ kind: 'changed', ids })
    })
  }

  /** Calls `listener` when sessions end through this store, or change or disappear elsewhere. */
  onChange (listener: (change: SessionChange) => void): void {
    this.#changeListeners.push(listener)
  }

  #tell (change: SessionChange): void {
    for (const listener of this.#changeListeners) {
      try {
        listener(change)
      } catch (err) {
        this.#log.error({ event: 'session.change_listener_failed', err: { message: (err as Error).message } }, 'a listener of session changes failed')
      }
    }
  }

  get kind (): SessionBackend['kind'] {
    return this.backend.kind
  }

  get cacheStats (): { hits: number, misses: number } {
    return { hits: this.#hits, misses: this.#misses }
  }

  /** The session, from memory when cached (unless `fresh`), else from the backend. Frozen: replace fields, never mutate them. */
  async get (id: string, opts: { fresh?: boolean } = {}): Promise<SessionRecord | undefined> {
    const shared = opts.fresh !== true && this.backend.available
    if (shared) {
      const cached = this.#cache.get(id) ?? this.#loading.get(id)
      if (cached !== undefined) {
        this.#hits++
        return await cached
      }
    }
    this.#misses++
    if (!shared) return await this.#load(id)
    const loading = this.#load(id).finally(() => { if (this.#loading.get(id) === loading) this.#loading.delete(id) })
    this.#loading.set(id, loading)
    return await loading
  }

  async #load (id: string): Promise<SessionRecord | undefined> {
    const generation = this.#generation
    const blob = await this.backend.get(id)
    if (blob === undefined) {
      this.#cache.delete(id)
      return undefined
    }
    const text = this.#cipher.decrypt(id, blob)
    if (text === undefined) {
      this.#log.warn({ event: 'session.undecryptable', session: shortId(id) }, 'a stored session could not be decrypted (its key was removed, or it was altered); treated as signed out')
      return undefined
    }
    let record: SessionRecord
    try {
      record = parseRecord(text)
    } catch {
      return undefined
    }
    if (generation === this.#generation) this.#cache.set(id, record, { size: text.length })
    return record
  }

  /**
   * Stores a session. With `onlyIfExists`, a session that ended meanwhile
   * (signed out, revoked, expired) is not written back; resolves to whether
   * it was written.
   */
  async set (id: string, record: SessionRecord, ttlMs: number, opts: { onlyIfExists?: boolean } = {}): Promise<boolean> {
    const tokens = record.tokens
    // The tokens in full (their JSON form is only a digest): spread, so the caller's object is left alone.
    const text = JSON.stringify(tokens instanceof SessionTokens ? { ...record, tokens: tokens.plain() } : record)
    const stored = parseRecord(text)
    const written = await this.backend.set(id, this.#cipher.encrypt(id, text), ttlMs, indexOf(stored), opts)
    this.#drop([id])
    if (!written) return false
    this.#cache.set(id, stored, { size: text.length })
    await this.#announce([id])
    return true
  }

  async destroy (id: string): Promise<void> {
    const known = this.#cache.get(id)
    this.#drop([id])
    await this.backend.delete(id, known === undefined ? undefined : indexOf(known))
    this.#tell({ kind: 'ended', ids: [id] })
    await this.#announce([id])
  }

  /** A value kept encrypted beside the sessions (same keys as sessions), or undefined. */
  async getValue (key: string): Promise<string | undefined> {
    const blob = await this.backend.getValue(key)
    return blob === undefined ? undefined : this.#cipher.decrypt(`value:${key}`, blob)
  }

  async setValue (key: string, value: string, ttlMs: number): Promise<void> {
    await this.backend.setValue(key, this.#cipher.encrypt(`value:${key}`, value), ttlMs)
  }

  /** Deletes every session of a user, or of an IdP session; returns how many. */
  async revoke (by: 'user' | 'idpSession', value: string): Promise<number> {
    const ids = await this.backend.idsBy(by, value)
    this.#drop(ids)
    await Promise.all(ids.map(async id => await this.backend.delete(id, by === 'user' ? { user: value, idpSession: undefined } : { user: undefined, idpSession: value })))
    this.#tell({ kind: 'ended', ids })
    await this.#announce(ids)
    return ids.length
  }

  /** Every stored session that this gateway can decrypt, with its id. */
  async list (): Promise<Array<{ id: string, record: SessionRecord }>> {
    return (await this.inventory()).sessions
  }

  /** Every stored session: those this gateway can decrypt, and the ids of those it cannot (another secret, or altered). */
  async inventory (): Promise<{ sessions: Array<{ id: string, record: SessionRecord }>, unreadable: string[] }> {
    const ids = await this.backend.allIds()
    const sessions: Array<{ id: string, record: SessionRecord }> = []
    const unreadable: string[] = []
    for (const id of ids) {
      const record = await this.get(id, { fresh: true })
      if (record !== undefined) sessions.push({ id, record })
      else if (await this.backend.get(id) !== undefined) unreadable.push(id)
    }
    return { sessions, unreadable }
  }

  async close (): Promise<void> {
    clearInterval(this.#purge)
    this.#cache.clear()
    await this.backend.close()
  }

  /**
   * Whether this request should write back the session's last-seen time: only
   * the first of the requests in flight together when a touch falls due does
   * (the others would write the same thing again); after `intervalMs` the next
   * one may. A write that failed is retried a touch interval later, well
   * within the idle timeout.
   */
  claimTouch (id: string, now: number, intervalMs: number): boolean {
    const last = this.#touches.get(id)
    if (last !== undefined && now - last < intervalMs) return false
    this.#touches.set(id, now)
    return true
  }

  /** Drops a cached copy (after a change this gateway learns of by other means). */
  forget (id: string): void {
    this.#drop([id])
  }

  /** Drops cached copies (all of them without ids) and keeps reads already in flight from caching theirs. */
  #drop (ids: readonly string[] | undefined): void {
    this.#generation++
    if (ids === undefined) {
      this.#cache.clear()
      this.#loading.clear()
    } else {
      for (const id of ids) {
        this.#cache.delete(id)
        this.#loading.delete(id)
      }
    }
  }

  async #announce (ids: readonly string[]): Promise<void> {
    try {
      await this.backend.publish(ids)
    } catch (err) {
      // The change is stored; other gateways see it when their cache entry expires.
      this.#log.warn({ err: { message: (err as Error).message } }, 'could not announce a session change; other gateways see it when their cache expires')
    }
  }
}

/** A stored session as the gateway holds it: frozen, with its tokens as SessionTokens. */
function parseRecord (text: string): SessionRecord {
  const { tokens, ...fields } = JSON.parse(text) as Omit<SessionRecord, 'tokens'> & { tokens?: TokenSet }
  return deepFreeze(tokens === undefined ? fields : { ...fields, tokens: new SessionTokens(tokens) })
}

/** 16 MB of session JSON: some 6,000 signed-in sessions with their tokens (about 2.5 KB each, 4 KB in memory). */
const DEFAULT_CACHE_MAX_BYTES = 16 * 1024 * 1024

function indexOf (record: SessionRecord): SessionIndex {
  return { user: record.identity?.id, idpSession: record.identity?.sid }
}

/** A short, non-secret label for a session in logs. */
export function shortId (id: string): string {
  return `${id.slice(0, 6)}…`
}

