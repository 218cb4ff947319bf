import { randomBytes } from 'node:crypto'
import type { Test } from 'tap'
import type { SessionBackend } from '../../src/session/backend.js'
import { createLogger } from '../../src/log/logger.js'
import { RedisBackend } from '../../src/session/redis-backend.js'

/**
 * The contract of SessionBackend (src/session/backend.ts), written once and
 * run against every store: memory, Redis standalone, Sentinel and Cluster.
 * Each case opens backends on a key space of its own and closes them.
 */
export interface BackendUnderTest {
  /** A backend on `space`. Two backends opened on one space share it when `shared` (two gateways on one store). */
  open (space: string): SessionBackend
  shared: boolean
  /** A backend whose store cannot be reached, for stores that can be away (not memory). */
  unreachable?: () => SessionBackend
}

/** Up to how long a case waits for an entry to expire or a message to arrive (a bound against hanging, not a measure). */
const WAIT_MS = 10_000
const SHORT_TTL_MS = 50
const LONG_TTL_MS = 600_000

/** A RedisBackend for these tests: silent, on the URL and key space given. */
export function redisBackend (url: string, space: string): RedisBackend {
  return new RedisBackend({ url, keyPrefix: `gh-test-${space}:`, commandTimeoutMs: 2000, log: createLogger({ level: 'silent' }) })
}

/** Polls `check` until it returns true; false if WAIT_MS pass first. Expiry has no event to wait for. */
async function eventually (check: () => Promise<boolean>): Promise<boolean> {
  const deadline = Date.now() + WAIT_MS
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

async function codeOf (promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise
    return undefined
  } catch (err) {
    return (err as { code?: string }).code
  }
}

const sorted = (ids: string[]): string[] => [...ids].sort()

export function sessionBackendConformance (t: Test, target: BackendUnderTest): void {
  const open = async (t: Test, space = randomBytes(6).toString('hex')): Promise<SessionBackend> => {
    const backend = target.open(space)
    t.teardown(() => backend.close())
    await backend.connected(WAIT_MS)
    return backend
  }

  t.test('a stored session reads back as written; an id never stored reads as none', async t => {
    const b = await open(t)
    t.equal(b.available, true, 'available once connected')
    await b.ping()
    const values = { plain: 'v1.abc.def', unicode: 'ünïcødé ✓ \u{1F511}', long: 'x'.repeat(64 * 1024), quoted: '{"a":"b"}\n\r\0' }
    for (const [id, value] of Object.entries(values)) t.equal(await b.set(id, value, LONG_TTL_MS, { user: undefined, idpSession: undefined }), true, `set ${id}`)
    for (const [id, value] of Object.entries(values)) t.equal(await b.get(id), value, `${id}: the same string back`)
    t.equal(await b.get('never-stored'), undefined)
    await b.set('plain', 'v2', LONG_TTL_MS, { user: undefined, idpSession: undefined })
    t.equal(await b.get('plain'), 'v2', 'a second set replaces the value')
  })

  t.test('sessions are found by user and by IdP session; an ended one is not', async t => {
    const b = await open(t)
    await b.set('s1', 'a', LONG_TTL_MS, { user: 'alice', idpSession: 'idp-1' })
    await b.set('s2', 'b', LONG_TTL_MS, { user: 'alice', idpSession: 'idp-2' })
    await b.set('s3', 'c', LONG_TTL_MS, { user: 'bob', idpSession: undefined })
    t.same(sorted(await b.idsBy('user', 'alice')), ['s1', 's2'])
    t.same(await b.idsBy('user', 'bob'), ['s3'])
    t.same(await b.idsBy('idpSession', 'idp-1'), ['s1'])
    t.same(await b.idsBy('idpSession', 'idp-2'), ['s2'])
    t.same(await b.idsBy('user', 'nobody'), [], 'an unknown user has none')
    t.same(await b.idsBy('idpSession', 'alice'), [], 'users and IdP sessions are apart')
    await b.delete('s1', { user: 'alice', idpSession: 'idp-1' })
    t.equal(await b.get('s1'), undefined, 'delete removes the session')
    t.same(await b.idsBy('user', 'alice'), ['s2'], 'and its index entries')
    t.same(await b.idsBy('idpSession', 'idp-1'), [])
    await b.delete('s2')
    t.same(await b.idsBy('user', 'alice'), [], 'a session deleted without its index is not found by it either')
    await b.delete('never-stored', { user: 'alice', idpSession: undefined })
    t.same(await b.idsBy('user', 'bob'), ['s3'], 'deleting what does not exist is harmless')
  })

  t.test('onlyIfExists writes a session still stored, and never brings back one that ended', async t => {
    const b = await open(t)
    const index = { user: 'alice', idpSession: 'idp-1' }
    t.equal(await b.set('s1', 'a', LONG_TTL_MS, index, { onlyIfExists: true }), false, 'a session never stored is not written')
    t.equal(await b.get('s1'), undefined)
    t.same(await b.idsBy('user', 'alice'), [], 'nor indexed')
    await b.set('s1', 'a', LONG_TTL_MS, index)
    t.equal(await b.set('s1', 'b', LONG_TTL_MS, index, { onlyIfExists: true }), true, 'a stored session is written')
    t.equal(await b.get('s1'), 'b')
    await b.delete('s1', index)
    t.equal(await b.set('s1', 'c', LONG_TTL_MS, index, { onlyIfExists: true }), false, 'an ended session is not written')
    t.equal(await b.get('s1'), undefined, 'and stays ended')
    t.same(await b.idsBy('user', 'alice'), [], 'nor is it indexed under the user again')
    t.same(await b.idsBy('idpSession', 'idp-1'), [], 'or the IdP session')
  })

  t.test('allIds lists every stored session and nothing else', async t => {
    const b = await open(t)
    const ids = Array.from({ length: 12 }, (_, i) => `session-${i}`)
    for (const id of ids) await b.set(id, id, LONG_TTL_MS, { user: 'alice', idpSession: undefined })
    await b.setValue('a-value', 'v', LONG_TTL_MS)
    await b.claimOnce('a-claim', LONG_TTL_MS)
    await b.lock('a-lock', LONG_TTL_MS)
    t.same(sorted(await b.allIds()), sorted(ids))
    await b.delete('session-0')
    t.same(sorted(await b.allIds()), sorted(ids.slice(1)), 'a deleted session is not listed')
  })

  t.test('values beside the sessions are their own', async t => {
    const b = await open(t)
    t.equal(await b.getValue('groups:alice'), undefined)
    await b.setValue('groups:alice', '["admins"]', LONG_TTL_MS)
    t.equal(await b.getValue('groups:alice'), '["admins"]')
    await b.setValue('groups:alice', '[]', LONG_TTL_MS)
    t.equal(await b.getValue('groups:alice'), '[]', 'a second set replaces the value')
    t.equal(await b.get('groups:alice'), undefined, 'a value is not a session')
    await b.set('groups:alice', 'session', LONG_TTL_MS, { user: undefined, idpSession: undefined })
    t.equal(await b.getValue('groups:alice'), '[]', 'nor is a session a value')
  })

  t.test('claimOnce is true the first time only', async t => {
    const b = await open(t)
    t.equal(await b.claimOnce('jti-1', LONG_TTL_MS), true)
    t.equal(await b.claimOnce('jti-1', LONG_TTL_MS), false, 'the second claim is refused')
    t.equal(await b.claimOnce('jti-2', LONG_TTL_MS), true, 'per key')
    const together = await Promise.all(Array.from({ length: 10 }, async () => await b.claimOnce('jti-3', LONG_TTL_MS)))
    t.equal(together.filter(x => x).length, 1, 'of ten claims at once, one wins')
  })

  t.test('a lock is exclusive until released with its token', async t => {
    const b = await open(t)
    const token = await b.lock('refresh:s1', LONG_TTL_MS)
    t.type(token, 'string', 'the first lock is granted')
    t.equal(await b.lock('refresh:s1', LONG_TTL_MS), undefined, 'a second is not while it is held')
    t.type(await b.lock('refresh:s2', LONG_TTL_MS), 'string', 'per key')
    await b.unlock('refresh:s1', 'not-the-token')
    t.equal(await b.lock('refresh:s1', LONG_TTL_MS), undefined, 'another token does not release it')
    await b.unlock('refresh:s1', token ?? '')
    const again = await b.lock('refresh:s1', LONG_TTL_MS)
    t.type(again, 'string', 'its own token does')
    t.not(again, token, 'with a new token')
    await b.unlock('refresh:s1', token ?? '')
    t.equal(await b.lock('refresh:s1', LONG_TTL_MS), undefined, 'an old token does not release the new holder')
  })

  t.test('a lock is a lease: renewed only with its token while it is held', async t => {
    const b = await open(t)
    const token = await b.lock('lease', SHORT_TTL_MS) ?? ''
    t.equal(await b.renew('lease', 'not-the-token', LONG_TTL_MS), false, 'another token does not renew it')
    t.equal(await b.renew('lease', token, LONG_TTL_MS), true, 'its own token does')
    t.equal(await b.renew('lease', token, LONG_TTL_MS), true, 'again and again')
    const expired = await b.lock('expiring', SHORT_TTL_MS) ?? ''
    t.ok(await eventually(async () => await b.lock('expiring', LONG_TTL_MS) !== undefined), 'an unrenewed lease expires')
    t.equal(await b.renew('expiring', expired, LONG_TTL_MS), false, 'and its old token cannot take it back')
    t.equal(await b.lock('lease', LONG_TTL_MS), undefined, 'the renewed lease outlived its first time to live')
    await b.unlock('lease', token)
    t.equal(await b.renew('lease', token, LONG_TTL_MS), false, 'a released lock is not renewed')
  })

  t.test('everything kept for a time is gone after it', async t => {
    const b = await open(t)
    await b.set('short', 'a', SHORT_TTL_MS, { user: 'alice', idpSession: 'idp-1' })
    await b.set('long', 'b', LONG_TTL_MS, { user: 'alice', idpSession: undefined })
    await b.setValue('short-value', 'v', SHORT_TTL_MS)
    t.equal(await b.claimOnce('short-claim', SHORT_TTL_MS), true)
    t.type(await b.lock('short-lock', SHORT_TTL_MS), 'string')
    t.ok(await eventually(async () => await b.get('short') === undefined), 'the session expires')
    t.equal(await b.get('long'), 'b', 'a longer one is still there')
    t.same(await b.idsBy('user', 'alice'), ['long'], 'an expired session is not found by its user')
    t.same(await b.idsBy('idpSession', 'idp-1'), [], 'or its IdP session')
    t.same(await b.allIds(), ['long'], 'or listed')
    t.ok(await eventually(async () => await b.getValue('short-value') === undefined), 'a value expires')
    t.ok(await eventually(async () => await b.claimOnce('short-claim', LONG_TTL_MS)), 'a claim expires: the key can be claimed again')
    t.ok(await eventually(async () => await b.lock('short-lock', LONG_TTL_MS) !== undefined), 'a lock expires: it can be taken again')
  })

  t.test('a backend does not hear its own announcements', async t => {
    const b = await open(t)
    const heard: Array<readonly string[] | undefined> = []
    b.subscribe(ids => heard.push(ids))
    await b.publish(['s1'])
    await b.publish([])
    t.same(heard, [], 'nothing heard')
  })

  if (target.shared) {
    t.test('changes are announced to every other backend on the same store, and not back to their sender', async t => {
      const space = randomBytes(6).toString('hex')
      const [a, b] = [await open(t, space), await open(t, space)]
      const heardByA: Array<readonly string[] | undefined> = []
      a.subscribe(ids => heardByA.push(ids))
      const next = (backend: SessionBackend): Promise<readonly string[] | undefined> => new Promise(resolve => { backend.subscribe(resolve) })
      // A subscription is set up on connect: announce until one arrives, then check what arrived.
      const first = next(b)
      let arrived = false
      void first.then(() => { arrived = true })
      t.ok(await eventually(async () => { await a.publish(['s1', 's2']); return arrived }), 'b hears a')
      t.same(await first, ['s1', 's2'], 'the ids a announced')
      const toA = next(a)
      await b.publish(['s3'])
      t.same(await toA, ['s3'], 'a hears b')
      t.same(heardByA, [['s3']], 'and never its own announcements')
    })
  }

  const unreachable = target.unreachable
  if (unreachable !== undefined) {
    t.test('a store that cannot be reached fails every call with GH_SESSION_STORE_UNAVAILABLE', async t => {
      const b = unreachable()
      t.teardown(() => b.close())
      t.equal(b.available, false, 'not available')
      t.equal(await codeOf(b.connected(200)), 'GH_SESSION_STORE_UNAVAILABLE', 'connected')
      const calls: Array<[string, () => Promise<unknown>]> = [
        ['get', async () => await b.get('s1')],
        ['set', async () => await b.set('s1', 'a', LONG_TTL_MS, { user: 'alice', idpSession: undefined })],
        ['delete', async () => { await b.delete('s1') }],
        ['idsBy', async () => await b.idsBy('user', 'alice')],
        ['allIds', async () => await b.allIds()],
        ['getValue', async () => await b.getValue('k')],
        ['setValue', async () => { await b.setValue('k', 'v', LONG_TTL_MS) }],
        ['claimOnce', async () => await b.claimOnce('k', LONG_TTL_MS)],
        ['lock', async () => await b.lock('k', LONG_TTL_MS)],
        ['unlock', async () => { await b.unlock('k', 'token') }],
        ['publish', async () => { await b.publish(['s1']) }],
        ['ping', async () => { await b.ping() }],
      ]
      for (const [name, call] of calls) t.equal(await codeOf(call()), 'GH_SESSION_STORE_UNAVAILABLE', name)
      t.equal(b.available, false, 'still not available')
    })
  }
}
