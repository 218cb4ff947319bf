import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { Browser, signInThroughIdp } from './helpers/browserless.js'
import { freePort } from './helpers/ports.js'

interface Demo {
  url: string
  /** Everything the demo wrote to stdout, line by line. */
  lines: string[]
  stderr: () => string
  /** Resolves once `count` lines after `from` match. */
  linesAfter: (from: number, count: number, match: RegExp) => Promise<string[]>
}

/** A request's line: `14:03:07 GET /admin/ → 403 … 2.1ms`. */
const REQUEST_LINE = /^\d\d:\d\d:\d\d [A-Z]+ \S+ → \d{3} .*\d+\.\dms$/

/** `npm run demo` (its built form) on a free port with these variables; stopped with SIGTERM by t.teardown. */
async function startDemo (t: { teardown (fn: () => unknown): void }, env: Record<string, string>): Promise<Demo> {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/demo/run.js'], {
    env: { PATH: process.env.PATH ?? '', DEMO_PORT: String(port), GATEHOUSE_ADMIN_LISTEN: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = once(child, 'exit')
  t.teardown(async () => {
    if (child.exitCode !== null) return
    child.kill('SIGTERM')
    await exited
  })
  const lines: string[] = []
  let stderr = ''
  let waiters: Array<() => void> = []
  let partial = ''
  child.stdout.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n')
    partial = parts.pop() ?? ''
    lines.push(...parts)
    const woken = waiters
    waiters = []
    for (const w of woken) w()
  })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const linesAfter = async (from: number, count: number, match: RegExp): Promise<string[]> => {
    for (;;) {
      const found = lines.slice(from).filter(l => match.test(l))
      if (found.length >= count) return found
      if (child.exitCode !== null) throw new Error(`the demo exited (${child.exitCode}): ${stderr}`)
      await Promise.race([new Promise<void>(resolve => waiters.push(resolve)), exited])
    }
  }
  await linesAfter(0, 1, /Press Ctrl-C to stop\./)
  return { url: `http://localhost:${port}`, lines, stderr: () => stderr, linesAfter }
}

t.test('the demo writes one readable line per request, with no JSON and no secrets, and honours GATEHOUSE_REDIS_KEY_PREFIX', async t => {
  const prefix = `demo-test-${randomBytes(6).toString('hex')}:`
  const demo = await startDemo(t, {
    REDIS_URL: 'redis://127.0.0.1:6379',
    GATEHOUSE_REDIS_KEY_PREFIX: prefix,
    GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/elsewhere',
    GATEHOUSE_PAGES_DENIAL_DETAIL: 'terse',
  })
  // Registered after the demo's own teardown: its keys are removed once it has stopped.
  const redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: 1 })
  t.teardown(async () => {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  })
  t.ok(demo.lines.includes('demo: GATEHOUSE_OIDC_ISSUER ignored: the demo signs people in at its own development OpenID Provider'), 'the ignored setting is named, with why')
  t.ok(demo.lines.includes(`  Sessions: redis://127.0.0.1:6379, keys under ${prefix}`), 'the banner names the key prefix')
  t.ok(demo.lines.includes('  Settings from the environment: GATEHOUSE_ADMIN_LISTEN, GATEHOUSE_PAGES_DENIAL_DETAIL, GATEHOUSE_REDIS_KEY_PREFIX'))

  const browser = new Browser()
  const signedIn = await signInThroughIdp(browser, `${demo.url}/`, 'bob', 'bob-pass')
  t.equal(signedIn.status, 200)
  const sessionKeys = await redis.keys(`${prefix}session:*`)
  t.equal(sessionKeys.length, 1, 'the session is stored under the prefix from the environment')

  // A request's line is written once its response is sent: the sign-in's last page may be answered first.
  await demo.linesAfter(0, 1, / GET \/ → 200 /)
  const mark = demo.lines.length
  const denied = await browser.get(`${demo.url}/admin/`)
  t.equal(denied.status, 403)
  t.notOk(denied.body.includes('group_required'), 'pages.denial_detail from the environment applies')
  await browser.get(`${demo.url}/public/`)
  await browser.get(`${demo.url}/.gatehouse/callback?code=not-a-real-code&state=not-a-real-state`)
  const requests = await demo.linesAfter(mark, 3, REQUEST_LINE)
  t.same(demo.lines.slice(mark), requests, 'nothing but one line per request')
  t.match(requests[0], / GET \/admin\/ → 403 \(admin: group_required\) bob \d+\.\dms$/)
  t.match(requests[1], / GET \/public\/ → 200 \d+\.\dms$/)
  t.match(requests[2], / GET \/\.gatehouse\/callback\?code=\[Redacted\]&state=\[Redacted\] → 400 \(sign-in failed: GH_SIGNIN_STATE_INVALID/)

  const output = demo.lines.join('\n')
  t.notOk(demo.lines.some(l => l.trimStart().startsWith('{')), 'no JSON line')
  // The session cookie and the like (a flag cookie's `1` is no secret).
  const cookies = [...browser.cookies(demo.url).values()].filter(v => v.length >= 16)
  t.ok(cookies.length > 0)
  for (const secret of [...cookies, 'not-a-real-code', 'not-a-real-state']) t.notOk(output.includes(secret), `no cookie or code is written: ${secret}`)
  t.match(output, /\n\d\d:\d\d:\d\d GET \/\.gatehouse\/callback\?code=\[Redacted\]&state=\[Redacted\]&iss=\S+ → 303 \(signed in\) bob \d+\.\dms\n/, 'the sign-in is one line too')
})

t.test('an unknown GATEHOUSE_ name stops the demo as it stops serve, with the name it resembles', async t => {
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/demo/run.js'], {
    env: { PATH: process.env.PATH ?? '', DEMO_PORT: String(port), GATEHOUSE_ADMIN_LISTEN: 'off', GATEHOUSE_REDIS_KEY_PREFX: 'x:' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  child.stdout.resume()
  const [code] = await once(child, 'exit') as [number]
  t.equal(code, 1)
  t.match(stderr, 'env GATEHOUSE_REDIS_KEY_PREFX: error: unknown setting (no config key has this name) (did you mean GATEHOUSE_REDIS_KEY_PREFIX?)\ndemo: not starting, the configuration is not valid\n')
})
