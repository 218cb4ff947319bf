/**
 * Where session blobs live. Two implementations, Redis and memory, share this
 * interface and one test suite. Values are opaque (encrypted) strings. Every
 * failure to reach the backend surfaces as GH_SESSION_STORE_UNAVAILABLE.
 */
export interface SessionIndex {
  /** The user's id: every session of a user can be found (revoke a user). */
  user: string | undefined
  /** The IdP's session id: back-channel logout names it. */
  idpSession: string | undefined
}

export interface SessionBackend {
  readonly kind: 'redis' | 'memory'
  /**
   * False while the backend is known to be unreachable. Cached sessions are
   * then not served (revocations could not reach this gateway): requests that
   * need a session fail with 503 until it is back.
   */
  readonly available: boolean
  /**
   * `exact`: every gateway hears of every change to a session's key (deleted,
   * expired, flushed, written), so a cached copy is dropped at once. `bounded`:
   * only of changes gateways announce; a cached copy may outlive its key by up
   * to session.cache_ttl.
   */
  readonly sessionCache: 'exact' | 'bounded'
  get (id: string): Promise<string | undefined>
  /**
   * Stores the session for `ttlMs` and adds it to the index sets of its user
   * and IdP session. With `onlyIfExists`, only a session still stored is
   * written (one that ended meanwhile is not brought back); resolves to
   * whether it was written.
   */
  set (id: string, value: string, ttlMs: number, index: SessionIndex, opts?: { onlyIfExists?: boolean }): Promise<boolean>
  delete (id: string, index?: SessionIndex): Promise<void>
  /** Session ids indexed under a user or an IdP session (may include ids that have since expired). */
  idsBy (kind: 'user' | 'idpSession', value: string): Promise<string[]>
  /** Every stored session id (for the sessions CLI). */
  allIds (): Promise<string[]>
  /** A small value kept for `ttlMs` beside the sessions (e.g. group memberships read from a directory). */
  getValue (key: string): Promise<string | undefined>
  setValue (key: string, value: string, ttlMs: number): Promise<void>
  /** Records `key` for `ttlMs`; true the first time, false if it was already recorded. */
  claimOnce (key: string, ttlMs: number): Promise<boolean>
  /** A short exclusive lock; resolves to a token to release it with, or undefined when someone else holds it. */
  lock (key: string, ttlMs: number): Promise<string | undefined>
  unlock (key: string, token: string): Promise<void>
  /** Extends a lock held with `token` to `ttlMs` from now (a lease); false when it is no longer held with it. */
  renew (key: string, token: string, ttlMs: number): Promise<boolean>
  /** Tells every other gateway sharing this backend that these sessions changed (or were deleted). */
  publish (ids: readonly string[]): Promise<void>
  /** Called with session ids changed by other gateways, or with undefined when changes may have been missed (drop everything). */
  subscribe (listener: (ids: readonly string[] | undefined) => void): void
  ping (): Promise<void>
  /** Resolves once the backend is connected (for one-shot tools); rejects after `timeoutMs`. */
  connected (timeoutMs: number): Promise<void>
  close (): Promise<void>
}
