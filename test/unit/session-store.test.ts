import t from 'tap'
import { createRequire } from 'node:module'
import { createLogger } from '../../src/log/logger.js'
import { MemoryBackend } from '../../src/session/memory-backend.js'
import { SessionCipher } from '../../src/session/session-cipher.js'
import { SessionStore } from '../../src/session/session-store.js'
import { SessionTokens } from '../../src/session/session-tokens.js'

const set = { idToken: 'id.token.value', accessToken: 'access-token-value', refreshToken: 'refresh-token-value', expiresAt: 1_700_000_000_000 }

t.test('tokens read as a digest of their content in JSON: equal tokens alike, any change differs, no token shows', async t => {
  const a = new SessionTokens(set)
  const json = JSON.stringify({ tokens: a })
  t.match(json, /^\{"tokens":"sha256:[A-Za-z0-9_-]{43}"\}$/)
  for (const value of Object.values(set)) t.notOk(json.includes(String(value)), `${String(value)} is not in the JSON form`)
  t.equal(JSON.stringify(new SessionTokens({ ...set })), JSON.stringify(a), 'the same tokens, the same digest')
  for (const key of Object.keys(set) as Array<keyof typeof set>) {
    const changed = new SessionTokens({ ...set, [key]: key === 'expiresAt' ? set.expiresAt + 1 : `${String(set[key])}x` })
    t.not(JSON.stringify(changed), JSON.stringify(a), `a different ${key}, a different digest`)
  }
  t.not(JSON.stringify(new SessionTokens({ ...set, refreshToken: undefined })), JSON.stringify(a), 'a missing token differs too')
  t.same(a.plain(), set, 'the tokens themselves')
  t.ok(Object.isFrozen(a), 'frozen')
})

t.test('@fastify/session sees a token change as a change, and an unchanged session as unchanged', async t => {
  // The plugin's own Session class, as it is constructed for a stored session on each request.
  const Session = createRequire(import.meta.url)('@fastify/session/lib/session.js') as new (...args: unknown[]) => { tokens: SessionTokens, isModified: () => boolean }
  const signer = { sign: (v: string) => `${v}.sig`, unsign: () => ({ valid: false, renew: false, value: null }) }
  const stored = { cookie: { originalMaxAge: 1000, expires: new Date(Date.now() + 1000).toISOString() }, createdAt: 1, tokens: new SessionTokens(set) }
  const load = (): { tokens: SessionTokens, isModified: () => boolean } => new Session({}, {}, () => 'id', { path: '/' }, signer, stored, 'id')
  t.equal(load().isModified(), false, 'unchanged')
  const same = load()
  same.tokens = new SessionTokens({ ...set })
  t.equal(same.isModified(), false, 'the same tokens in a new object: unchanged')
  const refreshed = load()
  refreshed.tokens = new SessionTokens({ ...set, accessToken: 'new-access-token' })
  t.equal(refreshed.isModified(), true, 'new tokens: changed, so the plugin saves the session')
})

t.test('the session store keeps the tokens in full, and hands them back as SessionTokens', async t => {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log: createLogger({ level: 'silent' }) })
  t.teardown(() => store.close())
  await store.set('session-1', { createdAt: 1, lastSeenAt: 1, tokens: new SessionTokens(set) }, 60_000)
  for (const fresh of [false, true]) {
    const record = await store.get('session-1', { fresh })
    t.ok(record?.tokens instanceof SessionTokens, `SessionTokens (${fresh ? 'from the backend' : 'cached'})`)
    t.same(record?.tokens?.plain(), set, `every token kept (${fresh ? 'from the backend' : 'cached'})`)
    t.ok(Object.isFrozen(record), 'frozen')
  }
  await store.set('session-2', { createdAt: 1 }, 60_000)
  t.equal((await store.get('session-2', { fresh: true }))?.tokens, undefined, 'a session without tokens has none')
})

t.test('the session cache is bounded by size: past it, the least recently used sessions are read from the backend again', async t => {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 100, cacheMaxBytes: 2000, log: createLogger({ level: 'silent' }) })
  t.teardown(() => store.close())
  const tokens = new SessionTokens({ ...set, idToken: 'x'.repeat(600) })
  for (const id of ['a', 'b', 'c']) await store.set(id, { createdAt: 1, tokens }, 60_000)
  const before = store.cacheStats
  t.equal((await store.get('c'))?.tokens?.idToken, tokens.idToken, 'the latest session is served')
  t.equal(store.cacheStats.hits, before.hits + 1, 'from memory')
  t.equal((await store.get('a'))?.tokens?.idToken, tokens.idToken, 'the oldest session is still served')
  t.equal(store.cacheStats.misses, before.misses + 1, 'from the backend: it no longer fitted in memory')
})

t.test('requests that arrive together for an uncached session share one backend read', async t => {
  const backend = new MemoryBackend()
  const read = backend.get.bind(backend)
  let reads = 0
  backend.get = async (id: string) => { reads++; return await read(id) }
  const store = new SessionStore({ backend, cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log: createLogger({ level: 'silent' }) })
  t.teardown(() => store.close())
  await store.set('a', { createdAt: 1, tokens: new SessionTokens(set) }, 60_000)
  store.forget('a')
  const records = await Promise.all(Array.from({ length: 20 }, async () => await store.get('a')))
  t.equal(reads, 1, 'one read for 20 requests')
  t.ok(records.every(r => r?.createdAt === 1), 'each gets the session')
  await store.get('a')
  t.equal(reads, 1, 'then it is cached')
})

t.test('a read in flight when the session ends does not bring it back into the cache', async t => {
  const backend = new MemoryBackend()
  const read = backend.get.bind(backend)
  let hold: (() => void) | undefined
  backend.get = async (id: string) => {
    const value = await read(id)
    if (hold === undefined) await new Promise<void>(resolve => { hold = resolve })
    return value
  }
  const store = new SessionStore({ backend, cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log: createLogger({ level: 'silent' }) })
  t.teardown(() => store.close())
  await store.set('a', { createdAt: 1 }, 60_000)
  store.forget('a')
  const inFlight = store.get('a')
  while (hold === undefined) await new Promise(resolve => setImmediate(resolve))
  await store.destroy('a')
  hold()
  t.equal((await inFlight)?.createdAt, 1, 'the read begun before the end answers with what it read')
  t.equal(await store.get('a'), undefined, 'the next request finds the session gone, not a cached copy')
})

t.test('of the requests in flight together when a touch falls due, only the first writes it', async t => {
  const store = new SessionStore({ backend: new MemoryBackend(), cipher: new SessionCipher('s'.repeat(32)), cacheTtlMs: 10_000, cacheMax: 10, log: createLogger({ level: 'silent' }) })
  t.teardown(() => store.close())
  t.same([1000, 1001, 1500].map(now => store.claimTouch('a', now, 60_000)), [true, false, false], 'one writer per touch interval')
  t.equal(store.claimTouch('b', 1001, 60_000), true, 'per session')
  t.equal(store.claimTouch('a', 61_000, 60_000), true, 'the next interval writes again')
})
