import type { OidcProvider } from '../signin/oidc-provider.js'
import type { SessionStore } from '../session/session-store.js'
import type { PolicyStore } from '../policy/policy-store.js'

const READY_PING_TIMEOUT_MS = 1000

export interface Readiness {
  ready: boolean
  body: Record<string, unknown>
}

/**
 * Ready when the session store answers and the provider's metadata is
 * loaded. A failed policy reload keeps the last good policy in force: still
 * ready, but reported. Served by /.gatehouse/readyz and the admin listener.
 */
export async function readiness (store: SessionStore, oidc: OidcProvider, policies: PolicyStore): Promise<Readiness> {
  const redis = await withTimeout(store.backend.ping(), READY_PING_TIMEOUT_MS).then(() => true, () => false)
  const policy = policies.status
  const checks = { session_store: redis ? 'ok' : 'unavailable', idp_metadata: oidc.isReady ? 'ok' : 'not_loaded', policy: policy.ok ? 'ok' : policy.testsFailed > 0 ? 'tests_failed' : 'reload_failed', session_cache: store.backend.sessionCache }
  const ready = redis && oidc.isReady
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'not_ready',
      checks,
      // Counts only: the problems themselves (file paths, rule text) are in the gateway's log.
      policy: { hash: policy.hash, loaded_at: policy.loadedAt, reloads: policy.reloads, failed_reloads: policy.failedReloads, errors: policy.errors.length, tests_failed: policy.testsFailed },
    },
  }
}

async function withTimeout<T> (promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error('timeout')), ms) })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
