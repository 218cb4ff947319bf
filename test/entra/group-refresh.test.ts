import t from 'tap'
import { policyDir } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'
import { API, APPS, GROUP_NAMES, HOME, POLICY, USERS } from './fixtures.js'

/** A clock the test moves by hand, so that token lifetimes take no time. */
function manualClock (): { now: () => number, advance: (ms: number) => void } {
  let offset = 0
  return { now: () => Date.now() + offset, advance: (ms) => { offset += ms } }
}

t.test('group overage: memberships are read again at each refresh; a failed read refuses until Graph answers', async t => {
  const { file } = policyDir(t, POLICY)
  const clock = manualClock()
  const stack = await startStack(t, {
    entra: { tenant: HOME, users: USERS, apps: APPS },
    clock: clock.now,
    accessTokenTtlSeconds: 600,
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_ENTRA_GROUP_NAMES: GROUP_NAMES, GATEHOUSE_BEARER_AUDIENCES: API, GATEHOUSE_UPSTREAM_FORWARD_GROUPS: 'mentioned' },
  })
  const graph = stack.graph
  if (graph === undefined) throw new Error('no Graph stand-in')
  const { browser } = await stack.signIn('olga', '/audit/')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const audit = async (): Promise<number> => (await fetch(`${stack.url}/audit/x`, { headers: { cookie, accept: 'application/json' } })).status
  t.equal(graph.requests.length, 3, 'read at sign-in')

  clock.advance(600_000)
  t.equal(await audit(), 200, 'after a refresh')
  t.equal(graph.requests.length, 6, 'the refresh read the memberships again, not from the cache')

  clock.advance(600_000)
  graph.fault = { status: 503 }
  t.equal(await audit(), 503, 'the refresh could not read them: refused, not decided on the old groups')
  t.equal(await audit(), 503, 'and so is the next request while Graph fails')
  const before = stack.app.requests.filter(r => r.url === '/audit/x').length
  t.equal(before, 1, 'the upstream saw only the request before the failure')

  graph.fault = undefined
  t.equal(await audit(), 200, 'Graph answers again: the groups are read and the session goes on')
  t.equal(stack.app.requests.filter(r => r.url === '/audit/x').length, 2)
})
