/**
 * Where sessions live. Two implementations (Redis, memory) share this
 * interface and one test suite. Values are JSON-serialisable objects; every
 * failure to reach the store surfaces as GH_SESSION_STORE_UNAVAILABLE.
 */
export interface SessionStore {
  readonly kind: 'redis' | 'memory'
  get (id: string): Promise<Record<string, unknown> | undefined>
  set (id: string, value: object, ttlMs: number): Promise<void>
  destroy (id: string): Promise<void>
  /** Records `key` for `ttlMs`; true the first time, false if it was already recorded. */
  claimOnce (key: string, ttlMs: number): Promise<boolean>
  /** Resolves when the store answers; rejects otherwise. */
  ping (): Promise<void>
  close (): Promise<void>
}
