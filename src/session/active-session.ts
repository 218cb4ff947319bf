import type { CookieSigner } from './cookie-signer.js'
import { storeTtlMs, type LifetimeSettings } from './lifetime.js'
import type { SessionFields, SessionRecord } from './session-data.js'
import type { SessionStore } from './session-store.js'

/**
 * A request that loaded the session before another one refreshed its tokens
 * (and saves it now, e.g. to record when it was last seen) must not write the
 * old tokens back: the refresh token they hold is spent, and the next refresh
 * would end the session. Its write keeps the newer tokens and identity.
 */
export async function withNewerTokens (store: SessionStore, sessionId: string, record: SessionRecord): Promise<SessionRecord> {
  if (record.identity === undefined) return record
  const current = await store.get(sessionId)
  return current === undefined ? record : keepingNewerTokens(current, record)
}

/**
 * `record`, with what a later refresh stored in `current` (tokens, identity,
 * whether the groups could be read) when there was one, and with a directory
 * watch's mark that `record` was read before: its groups cannot account for
 * the change the mark stands for, whatever it did with them.
 */
function keepingNewerTokens (current: Readonly<SessionRecord>, record: SessionRecord): SessionRecord {
  let merged = record
  if ((current.refreshedAt ?? 0) > (record.refreshedAt ?? 0)) {
    merged = copyOf(record)
    merged.identity = current.identity
    merged.tokens = current.tokens
    merged.refreshedAt = current.refreshedAt
    merged.groupsStale = current.groupsStale
    if (current.groupsFromGraph === true) merged.groupsFromGraph = true
  }
  if (current.groupsStale === true && (current.groupsMark ?? 0) > (merged.groupsMark ?? 0)) {
    if (merged === record) merged = copyOf(record)
    merged.groupsStale = true
    merged.groupsMark = current.groupsMark
  }
  return merged
}

function copyOf (record: SessionRecord): SessionRecord {
  return Object.assign(Object.create(Object.getPrototypeOf(record) as object) as SessionRecord, record)
}

export interface SessionContext {
  store: SessionStore
  lifetimes: LifetimeSettings
  clock: () => number
}

/**
 * The session of a request on its way upstream (or of a forward-auth check):
 * the cached, frozen record as the store holds it, read without copying it,
 * and changed only through `update`, which makes the request's own copy.
 * Writes go to the store when the caller says so (`save`), never as a side
 * effect of answering: a steady-state request builds nothing and hashes
 * nothing. Sign-in and sign-out, which create and end sessions, use the
 * session plugin on the gateway's own endpoints instead.
 */
export class ActiveSession {
  readonly id: string
  #record: Readonly<SessionRecord>
  readonly #context: SessionContext

  constructor (id: string, record: Readonly<SessionRecord>, context: SessionContext) {
    this.id = id
    this.#record = record
    this.#context = context
  }

  get record (): Readonly<SessionRecord> {
    return this.#record
  }

  /** Replaces fields in this request's copy (the cached record is never touched); `save` stores them. */
  update (fields: Partial<SessionFields>): void {
    this.#record = { ...this.#record, ...fields }
  }

  /**
   * Stores this request's copy, until the session would go idle, keeping what
   * a refresh on any gateway stored meanwhile (read from the store, not the
   * cache). A session that ended since this request read it (signed out,
   * revoked) is not brought back: resolves to false, and nothing is written.
   */
  async save (): Promise<boolean> {
    const { store, lifetimes, clock } = this.#context
    const current = await store.get(this.id, { fresh: true })
    if (current === undefined) return false
    const latest = keepingNewerTokens(current, this.#record)
    return await store.set(this.id, latest, storeTtlMs(latest, clock(), lifetimes), { onlyIfExists: true })
  }

  /** Deletes the session from the store (every gateway's cache drops it). */
  async end (): Promise<void> {
    await this.#context.store.destroy(this.id)
  }
}

/**
 * Reads the session a cookie names: the cookie's signature (remembered once
 * verified) and then the store (cached). A missing, forged or unknown cookie
 * is no session, never an error.
 */
export class SessionReader {
  readonly #signer: CookieSigner
  readonly #context: SessionContext

  constructor (signer: CookieSigner, context: SessionContext) {
    this.#signer = signer
    this.#context = context
  }

  async read (cookie: string | undefined): Promise<ActiveSession | undefined> {
    if (cookie === undefined || cookie === '') return undefined
    const unsigned = this.#signer.unsign(cookie)
    if (!unsigned.valid || unsigned.value === null || unsigned.value === '') return undefined
    const record = await this.#context.store.get(unsigned.value)
    return record === undefined ? undefined : new ActiveSession(unsigned.value, record, this.#context)
  }
}
