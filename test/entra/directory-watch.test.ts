import t, { type Test } from 'tap'
import type { EntraUser } from '../helpers/entra-standin.js'
import type { GraphStandin } from '../helpers/graph-standin.js'
import { parseMetrics, valueOf } from '../helpers/metrics-text.js'
import { policyDir } from '../helpers/policy-files.js'
import { startStack, type Stack } from '../helpers/stack.js'
import type { DirectoryWatch } from '../../src/signals/directory-watch.js'
import { ADMINS, API, APPS, GROUP_NAMES, HOME, POLICY, USERS } from './fixtures.js'

const WATCH = { GATEHOUSE_ENTRA_DIRECTORY_WATCH_ENABLED: 'true', GATEHOUSE_ENTRA_DIRECTORY_WATCH_INTERVAL: '1h' }

interface WatchStack { stack: Stack, graph: GraphStandin, users: Record<string, EntraUser> }

/** An Entra stack whose directory the test changes: its own copies of the users (the stand-ins change them). */
async function watchStack (t: Test, opts: { watch?: boolean, admin?: boolean } = {}): Promise<WatchStack> {
  const { file } = policyDir(t, POLICY)
  const users = USERS.map(u => ({ ...u, groups: [...u.groups] }))
  const stack = await startStack(t, {
    entra: { tenant: HOME, users, apps: APPS, deltaPageSize: 2 },
    admin: opts.admin === true,
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_BEARER_AUDIENCES: API, ...(opts.watch === false ? {} : WATCH) },
  })
  if (stack.graph === undefined) throw new Error('no Graph stand-in')
  return { stack, graph: stack.graph, users: Object.fromEntries(users.map(u => [u.id, u])) }
}

function watchOf (gateway: { directoryWatch: DirectoryWatch | undefined }): DirectoryWatch {
  if (gateway.directoryWatch === undefined) throw new Error('the directory watch is off')
  return gateway.directoryWatch
}

async function signedIn (stack: Stack, user: string): Promise<string> {
  const { browser } = await stack.signIn(user, '/x')
  return `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
}

async function status (url: string, cookie: string, path = '/x'): Promise<number> {
  return (await fetch(`${url}${path}`, { headers: { cookie, accept: 'application/json' } })).status
}

function deltaRequests (graph: GraphStandin, from = 0): string[] {
  return graph.requests.slice(from).filter(r => r.startsWith('/v1.0/users/delta'))
}

t.test('a user disabled in the directory is refused on every gateway after the next poll', async t => {
  const { stack, graph, users } = await watchStack(t)
  const watch = watchOf(stack.gateway)
  t.equal(await watch.pollNow(), 'success', 'the first rounds read the directory')
  t.ok(deltaRequests(graph).length >= 3, 'in pages')
  const replica = await stack.startReplica()
  const bob = await signedIn(stack, 'bob')
  const alice = await signedIn(stack, 'alice')
  for (const url of [stack.url, replica.url]) t.equal(await status(url, bob), 200, 'bob is signed in on both gateways')

  const started = performance.now()
  graph.directory.disable(users.bob as EntraUser)
  t.equal(await watch.pollNow(), 'success')
  t.equal(await status(replica.url, bob), 401, 'refused on the other gateway')
  t.comment(`account disabled to the first refusal on another gateway (one poll): ${(performance.now() - started).toFixed(1)} ms`)
  t.equal(await status(stack.url, bob), 401, 'and on the one that polled')
  t.equal(await status(replica.url, alice), 200, 'alice is not touched')
  const revoked = await stack.logs.waitFor(l => l.event === 'session.revoked' && l.source === 'directory')
  t.match(revoked, { reason: 'account_disabled', user: `${HOME}/${(users.bob as EntraUser).oid}`, sessions: 1 })
  t.equal(stack.logs.records().filter(l => l.event === 'session.revoked').length, 1, 'one audit line: the disabled accounts without sessions are passed over')
})

t.test('a deleted user is refused after the next poll', async t => {
  const { stack, graph, users } = await watchStack(t)
  const watch = watchOf(stack.gateway)
  await watch.pollNow()
  const bob = await signedIn(stack, 'bob')
  const alice = await signedIn(stack, 'alice')
  graph.directory.delete(users.bob as EntraUser)
  t.equal(await watch.pollNow(), 'success')
  t.equal(await status(stack.url, bob), 401)
  t.equal(await status(stack.url, alice), 200, 'nobody else')
  t.match(await stack.logs.waitFor(l => l.event === 'session.revoked'), { source: 'directory', reason: 'account_deleted' })
})

t.test('revoked sign-in sessions end the sessions signed in before, not those after', async t => {
  const { stack, graph, users } = await watchStack(t)
  const watch = watchOf(stack.gateway)
  await watch.pollNow()
  const before = await signedIn(stack, 'bob')
  graph.directory.revokeSessions(users.bob as EntraUser)
  const after = await signedIn(stack, 'bob')
  t.equal(await watch.pollNow(), 'success')
  t.equal(await status(stack.url, before), 401, 'the session from before the revocation ended')
  t.equal(await status(stack.url, after), 200, 'the sign-in after it stays')
  t.match(await stack.logs.waitFor(l => l.event === 'session.revoked'), { source: 'directory', reason: 'sign_in_sessions_revoked', selector: 'session', sessions: 1 })
})

t.test('removal from a group the policy names turns allow into 403 without a new sign-in', async t => {
  const { stack, graph, users } = await watchStack(t, { admin: true })
  const watch = watchOf(stack.gateway)
  await watch.pollNow()
  const alice = await signedIn(stack, 'alice')
  t.equal(await status(stack.url, alice, '/admins/x'), 200, 'alice is in admins')
  const groupsFilter = graph.requests.find(r => r.startsWith('/v1.0/groups/delta'))
  t.match(decodeURIComponent(groupsFilter ?? ''), `$filter=id eq '${ADMINS}'`, 'only the groups the policy names are asked for')

  graph.directory.removeMember(ADMINS, users.alice as EntraUser)
  const reads = graph.requests.filter(r => r.startsWith('/v1.0/me/')).length
  t.equal(await watch.pollNow(), 'success')
  t.equal(await status(stack.url, alice, '/admins/x'), 403, 'the same session is refused now')
  t.equal(graph.requests.filter(r => r.startsWith('/v1.0/me/')).length, reads + 1, 'her groups were read again from Graph')
  t.equal(await status(stack.url, alice, '/x'), 200, 'she stays signed in')
  t.match(await stack.logs.waitFor(l => l.event === 'directory.groups_stale'), { group: 'admins', sessions: 1 })
  const metrics = parseMetrics(await (await fetch(`${stack.adminUrl ?? ''}/metrics`)).text())
  t.equal(valueOf(metrics, 'gatehouse_directory_groups_stale_total'), 1)
  t.ok((valueOf(metrics, 'gatehouse_directory_polls_total', { result: 'success' }) ?? 0) >= 2, 'polls are counted')
})

t.test('one gateway polls at a time; another resumes from the stored delta link when it stops', async t => {
  // The first gateway does not watch; two replicas do.
  const { stack, graph, users } = await watchStack(t, { watch: false })
  t.equal(stack.gateway.directoryWatch, undefined, 'off by default')
  const first = await stack.startReplica(WATCH)
  const firstWatch = watchOf(first.gateway)
  t.equal(await firstWatch.pollNow(), 'success')
  const second = await stack.startReplica(WATCH)
  const secondWatch = watchOf(second.gateway)
  const mark = graph.requests.length
  t.equal(await secondWatch.pollNow(), 'standby', 'the lock is held: the second gateway does not poll')
  t.equal(graph.requests.length, mark, 'and asks Graph nothing')
  t.equal(await firstWatch.pollNow(), 'success', 'the holder polls again')

  const bob = await signedIn(stack, 'bob')
  await firstWatch.stop()
  graph.directory.disable(users.bob as EntraUser)
  const resumed = graph.requests.length
  t.equal(await secondWatch.pollNow(), 'success', 'the lock was handed over')
  const asked = deltaRequests(graph, resumed)
  t.equal(asked.length, 1, 'one page of changes')
  t.match(asked[0], /\$deltatoken=/, 'from the stored delta link, not the whole directory again')
  t.equal(await status(stack.url, bob, '/x'), 401, 'and the change was acted on')
})

t.test('a restarted gateway resumes from the stored delta link', async t => {
  const { stack, graph, users } = await watchStack(t, { watch: false })
  const before = await stack.startReplica(WATCH)
  t.equal(await watchOf(before.gateway).pollNow(), 'success')
  const bob = await signedIn(stack, 'bob')
  await before.gateway.close()
  graph.directory.disable(users.bob as EntraUser)

  const mark = graph.requests.length
  const after = await stack.startReplica(WATCH)
  t.equal(await watchOf(after.gateway).pollNow(), 'success')
  const asked = deltaRequests(graph, mark)
  t.ok(asked.length >= 1 && asked.every(r => r.includes('$deltatoken=')), 'every users/delta request of the new gateway carried the stored delta link')
  t.equal(await status(stack.url, bob), 401, 'the change made while no gateway polled was acted on')
})

t.test('Graph failing for a while (500, 429) changes nothing, and the watch recovers', async t => {
  const { stack, graph, users } = await watchStack(t, { admin: true })
  const watch = watchOf(stack.gateway)
  await watch.pollNow()
  const bob = await signedIn(stack, 'bob')
  const alice = await signedIn(stack, 'alice')
  const polls = async (result: string): Promise<number> => valueOf(parseMetrics(await (await fetch(`${stack.adminUrl ?? ''}/metrics`)).text()), 'gatehouse_directory_polls_total', { result })
  const [failedBefore, throttledBefore] = [await polls('failed'), await polls('throttled')]

  graph.fault = { status: 500 }
  t.equal(await watch.pollNow(), 'failed')
  t.equal(await watch.pollNow(), 'failed')
  const warning = await stack.logs.waitFor(l => l.event === 'directory.poll_failed' && /HTTP 500/.test(String(l.reason)))
  t.equal(warning.level, 40, 'a warning naming what Graph answered')
  for (const cookie of [bob, alice]) t.equal(await status(stack.url, cookie), 200, 'nobody is signed out')

  graph.fault = { status: 429, retryAfter: '1', times: 1 }
  const throttledAt = Date.now()
  t.equal(await watch.pollNow(), 'throttled')
  const asked = graph.requests.length
  t.equal(await watch.pollNow(), 'throttled', 'asked again at once: still waiting as Graph said')
  t.equal(graph.requests.length, asked, 'without asking Graph')
  for (const cookie of [bob, alice]) t.equal(await status(stack.url, cookie), 200, 'nobody is signed out')

  graph.directory.disable(users.bob as EntraUser)
  // The next round comes by itself once Retry-After has passed.
  await stack.logs.waitFor(l => l.event === 'directory.poll' && Date.parse(String(l.time)) >= throttledAt)
  t.equal(await status(stack.url, bob), 401, 'recovered: the change is acted on')
  t.equal(await status(stack.url, alice), 200)
  t.equal(await polls('failed') - failedBefore, 2, 'failed polls are counted')
  t.equal(await polls('throttled') - throttledBefore, 2, 'and throttled ones')
  t.equal(stack.logs.records().filter(l => l.event === 'session.revoked').length, 1, 'only bob\'s session ended')
})
