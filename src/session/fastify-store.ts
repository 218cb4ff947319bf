import type { SessionStore as FastifySessionStoreContract } from '@fastify/session'
import type { Session } from 'fastify'
import { storeTtlMs, type LifetimeSettings } from './lifetime.js'
import type { SessionRecord } from './session-data.js'
import type { SessionStore } from './session-store.js'

type Callback = (err?: unknown) => void
type GetCallback = (err: unknown, result?: Session | null) => void

/**
 * A request that loaded the session before another one refreshed its tokens
 * (and saves it now, e.g. to record when it was last seen) must not write the
 * old tokens back: the refresh token they hold is spent, and the next refresh
 * would end the session. Its write keeps the newer tokens and identity.
 */
async function withNewerTokens (store: SessionStore, sessionId: string, record: SessionRecord): Promise<SessionRecord> {
  if (record.identity === undefined) return record
  const current = await store.get(sessionId)
  if (current === undefined || (current.refreshedAt ?? 0) <= (record.refreshedAt ?? 0)) return record
  const merged = Object.assign(Object.create(Object.getPrototypeOf(record) as object) as SessionRecord, record)
  merged.identity = current.identity
  merged.tokens = current.tokens
  merged.refreshedAt = current.refreshedAt
  if (current.groupsFromGraph === true) merged.groupsFromGraph = true
  return merged
}

/**
 * Adapts the SessionStore to the callback interface @fastify/session expects.
 * The backend keeps a session until it would go idle, never past its maximum
 * lifetime.
 */
export function toFastifySessionStore (store: SessionStore, lifetimes: LifetimeSettings, clock: () => number): FastifySessionStoreContract {
  return {
    set (sessionId: string, session: Session, callback: Callback) {
      const record = session as unknown as SessionRecord
      withNewerTokens(store, sessionId, record)
        .then(async latest => { await store.set(sessionId, latest, storeTtlMs(latest, clock(), lifetimes)) })
        .then(() => callback(), callback)
    },
    get (sessionId: string, callback: GetCallback) {
      store.get(sessionId).then(value => callback(null, (value ?? null) as Session | null), callback)
    },
    destroy (sessionId: string, callback: Callback) {
      store.destroy(sessionId).then(() => callback(), callback)
    },
  }
}
