import type { SessionStore as FastifySessionStoreContract } from '@fastify/session'
import type { Session } from 'fastify'
import { storeTtlMs, type LifetimeSettings } from './lifetime.js'
import type { SessionRecord } from './session-data.js'
import type { SessionStore } from './session-store.js'
import { withNewerTokens } from './active-session.js'

type Callback = (err?: unknown) => void
type GetCallback = (err: unknown, result?: Session | null) => void

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
