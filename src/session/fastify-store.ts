import type { SessionStore as FastifySessionStoreContract } from '@fastify/session'
import type { Session } from 'fastify'
import type { SessionStore } from './store.js'

type Callback = (err?: unknown) => void
type GetCallback = (err: unknown, result?: Session | null) => void

/**
 * Adapts a SessionStore to the callback interface @fastify/session expects.
 * The TTL in the store follows the session cookie's expiry, or the configured
 * lifetime when the cookie has none.
 */
export function toFastifySessionStore (store: SessionStore, defaultTtlMs: number): FastifySessionStoreContract {
  return {
    set (sessionId: string, session: Session, callback: Callback) {
      const expires = session.cookie?.expires
      const ttl = expires instanceof Date ? expires.getTime() - Date.now() : defaultTtlMs
      store.set(sessionId, session, ttl).then(() => callback(), callback)
    },
    get (sessionId: string, callback: GetCallback) {
      store.get(sessionId).then(value => callback(null, (value ?? null) as Session | null), callback)
    },
    destroy (sessionId: string, callback: Callback) {
      store.destroy(sessionId).then(() => callback(), callback)
    },
  }
}
