import t from 'tap'
import type { Session } from 'fastify'
import { createLogger } from '../../src/log/logger.js'
import { toFastifySessionStore } from '../../src/session/fastify-store.js'
import { MemoryBackend } from '../../src/session/memory-backend.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import type { SessionRecord } from '../../src/session/session-data.js'
import { SessionStore } from '../../src/session/session-store.js'
import { SessionTokens } from '../../src/session/session-tokens.js'

const identity = { id: 'alice', issuer: 'i', subject: 'alice', name: undefined, email: undefined, groups: [], roles: [], amr: [], acr: undefined, sid: undefined, claims: {} }

t.test('a request that loaded the session before a refresh does not write the spent tokens back', async t => {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log: createLogger({ level: 'silent' }) })
  const now = Date.now()
  const adapter = toFastifySessionStore(store, { idleMs: 3_600_000, maxMs: 43_200_000 }, () => now)
  const save = async (record: SessionRecord): Promise<void> => { await new Promise<void>((resolve, reject) => adapter.set('sid-1', record as unknown as Session, err => { if (err === undefined || err === null) resolve(); else reject(err as Error) })) }

  const before: SessionRecord = { identity, createdAt: now, lastSeenAt: now, tokens: new SessionTokens({ idToken: 'id-1', accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: now + 1000 }) }
  await save(before)
  // One request refreshes: new tokens, refreshedAt set.
  await save({ ...before, tokens: new SessionTokens({ idToken: 'id-2', accessToken: 'at-2', refreshToken: 'rt-2', expiresAt: now + 600_000 }), refreshedAt: now + 1 })
  // Another one, begun before the refresh, records that it saw the user.
  await save({ ...before, lastSeenAt: now + 2 })

  const stored = await store.get('sid-1', { fresh: true })
  t.equal(stored?.tokens?.refreshToken, 'rt-2', 'the refreshed tokens stay')
  t.equal(stored?.refreshedAt, now + 1)
  t.equal(stored?.lastSeenAt, now + 2, 'and the later request\'s own change is kept')

  // A later refresh is written as usual.
  await save({ ...before, tokens: new SessionTokens({ idToken: 'id-3', accessToken: 'at-3', refreshToken: 'rt-3', expiresAt: now + 1_200_000 }), refreshedAt: now + 3 })
  t.equal((await store.get('sid-1', { fresh: true }))?.tokens?.refreshToken, 'rt-3')
})
