import { spawn } from 'node:child_process'
import t from 'tap'
import { startStack, type Stack } from './helpers/stack.js'

/** The built CLI against the same Redis, prefix and secrets as the running gateway. */
async function cli (stack: Stack, args: string[], env: Record<string, string | undefined> = stack.env): Promise<{ status: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['dist/cli.js', 'sessions', ...args], { env: { PATH: process.env.PATH ?? '', ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const status = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { status, stdout, stderr }
}

t.test('gatehouse sessions list and revoke, seen by the running gateway at once', async t => {
  const stack = await startStack(t)
  const signIn = async (user: string): Promise<string> => {
    const { browser } = await stack.signIn(user, '/.gatehouse/login?return=/.gatehouse/healthz')
    return `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  }
  const alice1 = await signIn('alice')
  const alice2 = await signIn('alice')
  const bob = await signIn('bob')
  const status = async (cookie: string): Promise<number> => (await fetch(`${stack.url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status
  for (const c of [alice1, alice2, bob]) t.equal(await status(c), 200, 'signed in (and cached by the gateway)')

  const all = await cli(stack, ['list', '--json'])
  t.equal(all.status, 0, all.stderr)
  const rows = JSON.parse(all.stdout) as Array<{ session: string, user: string, email: string, signed_in: string, expires: string }>
  t.same(rows.map(r => r.user).sort(), ['alice', 'alice', 'bob'])
  t.match(rows[0], { session: /^[A-Za-z0-9_-]{20,}$/, signed_in: /^\d{4}-\d\d-\d\dT/, expires: /^\d{4}-\d\d-\d\dT/ })
  const text = await cli(stack, ['list', '--user', 'alice'])
  t.match(text.stdout, /^2 session\(s\)\n/)

  const revoked = await cli(stack, ['revoke', '--user', 'alice'])
  t.equal(revoked.status, 0, revoked.stderr)
  t.equal(revoked.stdout, 'revoked 2 session(s)\n')
  t.equal(await status(alice1), 401, 'the running gateway refuses alice at once (its cache was told)')
  t.equal(await status(alice2), 401)
  t.equal(await status(bob), 200, 'bob is untouched')

  const bobId = rows.find(r => r.user === 'bob')?.session ?? ''
  t.equal((await cli(stack, ['revoke', '--session', bobId])).stdout, 'revoked 1 session(s)\n')
  t.equal(await status(bob), 401)
  t.equal((await cli(stack, ['revoke', '--session', bobId])).stdout, 'revoked 0 session(s)\n', 'revoking twice is harmless')

  await signIn('alice')
  t.equal((await cli(stack, ['revoke', '--all'])).stdout, 'revoked 1 session(s)\n')
  t.equal((await cli(stack, ['revoke'])).status, 2, 'revoke needs exactly one selector')
  t.equal((await cli(stack, ['revoke', '--user', 'a', '--all'])).status, 2)
  t.equal((await cli(stack, ['frobnicate'])).status, 2)
})

t.test('gatehouse sessions needs only Redis, the key prefix and the session secret, and says what it cannot read', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const cookie = `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const status = async (): Promise<number> => (await fetch(`${stack.url}/api/x`, { headers: { cookie, accept: 'application/json' } })).status
  const only = Object.fromEntries(Object.entries(stack.env).filter(([name]) => /^GATEHOUSE_(REDIS_|SESSION_SECRET)/.test(name)))
  t.ok(only.GATEHOUSE_REDIS_URL !== undefined && only.GATEHOUSE_SESSION_SECRET !== undefined, 'Redis and the secret only')
  t.notOk(Object.keys(only).some(n => /PUBLIC_URL|SIGNING|OIDC|UPSTREAM/.test(n)))
  const listed = await cli(stack, ['list'], only)
  t.equal(listed.status, 0, listed.stderr)
  t.match(listed.stdout, /^1 session\(s\)\n/)

  const other = { ...only, GATEHOUSE_SESSION_SECRET: 'another-secret-'.repeat(4) }
  const blind = await cli(stack, ['list'], other)
  t.equal(blind.status, 0, blind.stderr)
  t.match(blind.stdout, /^0 session\(s\)\n1 more session\(s\) stored that this session secret cannot read/, 'the sessions are there, and unread')
  const id = (JSON.parse((await cli(stack, ['list', '--json'], only)).stdout) as Array<{ session: string }>)[0]?.session ?? ''
  t.equal((await cli(stack, ['revoke', '--session', id], other)).stdout, 'revoked 1 session(s)\n', '--session revokes what is stored, as --user does')
  t.equal(await status(), 401, 'and the gateway refuses it at once')
  t.equal((await cli(stack, ['revoke', '--session', id], other)).stdout, 'revoked 0 session(s)\n')
})
