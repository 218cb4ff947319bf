import t from 'tap'
import { createLogger } from '../../src/log/logger.js'
import { SessionReader } from '../../src/session/active-session.js'
import { CookieSigner } from '../../src/session/cookie-signer.js'
import { MemoryBackend } from '../../src/session/memory-backend.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import type { SessionRecord } from '../../src/session/session-data.js'
import { SessionStore } from '../../src/session/session-store.js'
import { SessionTokens } from '../../src/session/session-tokens.js'

const identity = { id: 'alice', issuer: 'i', subject: 'alice', name: undefined, email: undefined, groups: [], roles: [], amr: [], acr: undefined, sid: undefined, claims: {} }
const lifetimes = { idleMs: 3_600_000, maxMs: 43_200_000 }

const log = createLogger({ level: 'silent' })

function setUp (now: number): { store: SessionStore, signer: CookieSigner, reader: SessionReader, record: SessionRecord } {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log })
  const signer = new CookieSigner(['k'.repeat(32)], 10)
  const record: SessionRecord = { identity, createdAt: now, lastSeenAt: now, tokens: new SessionTokens({ idToken: 'id-1', accessToken: 'at-1', refreshToken: 'rt-1', expiresAt: now + 1000 }) }
  return { store, signer, reader: new SessionReader(signer, { store, lifetimes, clock: () => now }), record }
}

t.test('a signed cookie naming a stored session reads it; anything else is no session', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', record, 60_000)
  const session = await reader.read(signer.sign('sid-1'))
  t.equal(session?.id, 'sid-1')
  t.equal(session?.record.identity?.id, 'alice')
  t.equal(await reader.read(undefined), undefined, 'no cookie')
  t.equal(await reader.read(''), undefined, 'empty cookie')
  t.equal(await reader.read('sid-1'), undefined, 'unsigned id')
  t.equal(await reader.read(`${signer.sign('sid-1').slice(0, -2)}xx`), undefined, 'bad signature')
  t.equal(await reader.read(new CookieSigner(['o'.repeat(32)], 10).sign('sid-1')), undefined, 'signed with another secret')
  t.equal(await reader.read(signer.sign('sid-unknown')), undefined, 'signed, but no such session')
})

t.test('update changes the request\'s copy only; save stores it', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', record, 60_000)
  const session = await reader.read(signer.sign('sid-1'))
  if (session === undefined) throw new Error('no session')
  const cached = await store.get('sid-1')
  session.update({ lastSeenAt: now + 5 })
  t.equal(session.record.lastSeenAt, now + 5)
  t.equal(cached?.lastSeenAt, now, 'the cached record is left as it was')
  t.equal((await store.get('sid-1'))?.lastSeenAt, now, 'nothing is stored before save')
  await session.save()
  t.equal((await store.get('sid-1', { fresh: true }))?.lastSeenAt, now + 5)
  t.equal((await store.get('sid-1', { fresh: true }))?.tokens?.refreshToken, 'rt-1', 'the tokens are stored in full')
  await session.end()
  t.equal(await store.get('sid-1', { fresh: true }), undefined, 'end deletes it')
  t.equal(await reader.read(signer.sign('sid-1')), undefined)
})

t.test('a request that read the session before another refreshed it does not write the spent tokens back', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', record, 60_000)
  const early = await reader.read(signer.sign('sid-1'))
  const refreshing = await reader.read(signer.sign('sid-1'))
  if (early === undefined || refreshing === undefined) throw new Error('no session')
  refreshing.update({ tokens: new SessionTokens({ idToken: 'id-2', accessToken: 'at-2', refreshToken: 'rt-2', expiresAt: now + 600_000 }), refreshedAt: now + 1 })
  await refreshing.save()
  early.update({ lastSeenAt: now + 2 })
  await early.save()
  const stored = await store.get('sid-1', { fresh: true })
  t.equal(stored?.tokens?.refreshToken, 'rt-2', 'the refreshed tokens stay')
  t.equal(stored?.refreshedAt, now + 1)
  t.equal(stored?.lastSeenAt, now + 2, 'and the later request\'s own change is kept')
})

// Whether a store writes "only if it still exists" (SET XX in Redis) is part of the backend contract,
// run against every backend in test/session-backend/; here, what the reader makes of it.
t.test('a request\'s write-back does not bring back a session that ended after it was read', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  t.teardown(() => store.close())
  await store.set('sid-1', record, 60_000)
  const session = await reader.read(signer.sign('sid-1'))
  if (session === undefined) throw new Error('no session')
  t.equal(await store.revoke('user', 'alice'), 1, 'signed out everywhere while the request was in flight')
  session.update({ lastSeenAt: now + 5 })
  t.equal(await session.save(), false, 'save says the session is gone')
  t.equal(await store.get('sid-1', { fresh: true }), undefined, 'and it stays gone')
  t.equal(await store.backend.idsBy('user', 'alice').then(ids => ids.length), 0, 'nor is it indexed under the user again')

  await store.set('sid-2', record, 60_000)
  const live = await reader.read(signer.sign('sid-2'))
  live?.update({ lastSeenAt: now + 6 })
  t.equal(await live?.save(), true, 'a session still stored is written')
  t.equal((await store.get('sid-2', { fresh: true }))?.lastSeenAt, now + 6)
})

t.test('a write-back keeps a later refresh\'s note that the groups could not be read (fails closed)', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', record, 60_000)
  const early = await reader.read(signer.sign('sid-1'))
  if (early === undefined) throw new Error('no session')
  // Another request refreshed: new tokens, but the directory did not answer.
  await store.set('sid-1', { ...record, tokens: new SessionTokens({ idToken: 'id-2', accessToken: 'at-2', refreshToken: 'rt-2', expiresAt: now + 600_000 }), refreshedAt: now + 1, groupsStale: true }, 60_000)
  early.update({ lastSeenAt: now + 2 })
  t.equal(await early.save(), true)
  const stored = await store.get('sid-1', { fresh: true })
  t.equal(stored?.groupsStale, true, 'the groups are still to be read')
  t.equal(stored?.tokens?.refreshToken, 'rt-2')
})

t.test('a directory watch mark made while a request was in flight survives that request\'s write-back', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', record, 60_000)
  const inFlight = await reader.read(signer.sign('sid-1'))
  const watch = await reader.read(signer.sign('sid-1'))
  if (inFlight === undefined || watch === undefined) throw new Error('no session')
  // The member leaves a group: the watch marks the session after the request read it.
  watch.update({ groupsStale: true, groupsMark: 1 })
  await watch.save()
  // The request records when it was last seen; it knew nothing of the mark.
  inFlight.update({ lastSeenAt: now + 2 })
  await inFlight.save()
  const stored = await store.get('sid-1', { fresh: true })
  t.equal(stored?.groupsStale, true, 'the groups are still to be read again')
  t.equal(stored?.groupsMark, 1)
  t.equal(stored?.lastSeenAt, now + 2, 'the request\'s own change is kept')
})

t.test('groups read after a mark clear it; a newer mark made while they were read stays', async t => {
  const now = Date.now()
  const { store, signer, reader, record } = setUp(now)
  await store.set('sid-1', { ...record, groupsStale: true, groupsMark: 1 }, 60_000)
  const reading = await reader.read(signer.sign('sid-1'))
  if (reading === undefined) throw new Error('no session')
  reading.update({ identity: { ...identity, groups: ['staff'] }, groupsStale: undefined })
  await reading.save()
  t.equal((await store.get('sid-1', { fresh: true }))?.groupsStale, undefined, 'read after the mark it saw: cleared')

  await store.set('sid-1', { ...record, groupsStale: true, groupsMark: 1 }, 60_000)
  const slow = await reader.read(signer.sign('sid-1'))
  const watch = await reader.read(signer.sign('sid-1'))
  if (slow === undefined || watch === undefined) throw new Error('no session')
  watch.update({ groupsStale: true, groupsMark: 2 })
  await watch.save()
  slow.update({ identity: { ...identity, groups: ['staff'] }, groupsStale: undefined })
  await slow.save()
  const stored = await store.get('sid-1', { fresh: true })
  t.equal(stored?.groupsStale, true, 'the second mark came after the groups were read: it stays')
  t.equal(stored?.groupsMark, 2)
})
