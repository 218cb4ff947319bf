/// <reference path="./oidc-provider.d.ts" />
import type { Adapter, AdapterPayload } from 'oidc-provider'

interface Entry { payload: AdapterPayload, expiresAt: number }

/** Models whose entries are revoked together by grant id. */
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode'])

/**
 * In-memory storage adapter. The bundled MemoryAdapter prints a warning for
 * every Provider instance and is a size-bounded LRU shared per process; this
 * one is per-instance and unbounded (expired entries are swept lazily).
 */
export function memoryAdapterFactory (clockToleranceSeconds: number): (model: string) => Adapter {
  const store = new Map<string, Entry>()
  const grantIndex = new Map<string, Set<string>>()
  const uidIndex = new Map<string, string>()
  const userCodeIndex = new Map<string, string>()
  let writes = 0

  const live = (key: string): Entry | undefined => {
    const entry = store.get(key)
    if (entry !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key)
      return undefined
    }
    return entry
  }
  const sweep = (): void => {
    const now = Date.now()
    for (const [key, entry] of store) if (entry.expiresAt <= now) store.delete(key)
  }

  return (model: string): Adapter => {
    const key = (id: string): string => `${model}:${id}`
    const find = async (id: string | undefined): Promise<AdapterPayload | undefined> => {
      if (id === undefined) return undefined
      const entry = live(key(id))
      return entry === undefined ? undefined : structuredClone(entry.payload)
    }
    return {
      async upsert (id, payload, expiresIn) {
        if (++writes % 500 === 0) sweep()
        const expiresAt = typeof expiresIn === 'number'
          ? Date.now() + (expiresIn + clockToleranceSeconds) * 1000
          : Number.POSITIVE_INFINITY
        store.set(key(id), { payload: structuredClone(payload), expiresAt })
        if (model === 'Session' && typeof payload.uid === 'string') uidIndex.set(payload.uid, id)
        if (typeof payload.userCode === 'string') userCodeIndex.set(payload.userCode, id)
        if (GRANTABLE.has(model) && typeof payload.grantId === 'string') {
          let members = grantIndex.get(payload.grantId)
          if (members === undefined) grantIndex.set(payload.grantId, (members = new Set()))
          members.add(key(id))
        }
      },
      find,
      async findByUid (uid) {
        return await find(uidIndex.get(uid))
      },
      async findByUserCode (userCode) {
        return await find(userCodeIndex.get(userCode))
      },
      async consume (id) {
        const entry = live(key(id))
        if (entry !== undefined) entry.payload.consumed = Math.floor(Date.now() / 1000)
      },
      async destroy (id) {
        const entry = store.get(key(id))
        store.delete(key(id))
        if (entry?.payload.uid !== undefined && uidIndex.get(entry.payload.uid) === id) {
          uidIndex.delete(entry.payload.uid)
        }
      },
      async revokeByGrantId (grantId) {
        for (const member of grantIndex.get(grantId) ?? []) store.delete(member)
        grantIndex.delete(grantId)
      },
    }
  }
}
