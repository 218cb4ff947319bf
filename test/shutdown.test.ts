import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { policyDir } from './helpers/policy-files.js'
import { freePort } from './helpers/ports.js'

/** An upstream that holds every request until told to answer. */
async function heldUpstream (t: Test): Promise<{ url: string, arrived: Promise<void>, release: () => void }> {
  const held: ServerResponse[] = []
  let arrive: () => void = () => {}
  const arrived = new Promise<void>(resolve => { arrive = resolve })
  const server = createServer((_req, res) => { held.push(res); arrive() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrived, release: () => { for (const r of held) r.end('finished') } }
}

/** `gatehouse serve` as its own process; resolves once it listens. */
async function serve (t: Test, upstream: string, extra: Record<string, string> = {}): Promise<{ child: ChildProcess, url: string, lines: string[], saw: (msg: string) => Promise<void> }> {
  const { dir, file } = policyDir(t, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')
  const key = join(dir, 'key.pem')
  writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_PUBLIC_URL: `http://127.0.0.1:${port}`,
      GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/unreachable', GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
      GATEHOUSE_OIDC_CLIENT_ID: 'c', GATEHOUSE_OIDC_CLIENT_SECRET: 's', GATEHOUSE_SESSION_SECRET: 'z'.repeat(40),
      GATEHOUSE_SIGNING_KEY_FILE: key, GATEHOUSE_UPSTREAM_URL: upstream, GATEHOUSE_POLICIES: file, GATEHOUSE_ADMIN_LISTEN: 'off', ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: string[] = []
  const waiters: Array<{ msg: string, resolve: () => void }> = []
  child.stdout?.on('data', (c: Buffer) => {
    for (const line of c.toString().split('\n')) {
      if (line === '') continue
      lines.push(line)
      for (const w of waiters.filter(w => line.includes(`"msg":"${w.msg}`))) w.resolve()
    }
  })
  const saw = async (msg: string): Promise<void> => {
    if (lines.some(l => l.includes(`"msg":"${msg}`))) return
    await new Promise<void>(resolve => waiters.push({ msg, resolve }))
  }
  await saw('Server listening')
  return { child, url: `http://127.0.0.1:${port}`, lines, saw }
}

t.test('SIGTERM: stop accepting, finish the request in flight, exit 0', async t => {
  const upstream = await heldUpstream(t)
  const gw = await serve(t, upstream.url)
  const inFlight = fetch(`${gw.url}/report`)
  await upstream.arrived
  gw.child.kill('SIGTERM')
  await gw.saw('shutting down')
  await t.rejects(fetch(`${gw.url}/new`), 'a new connection is refused')
  upstream.release()
  const res = await inFlight
  t.equal(res.status, 200, 'the accepted request completed')
  t.equal(await res.text(), 'finished')
  const [code] = await once(gw.child, 'exit') as [number | null]
  t.equal(code, 0, 'exit 0')
})

t.test('SIGTERM with a request that outlives the grace period: exit 0 when the grace period ends', async t => {
  const upstream = await heldUpstream(t)
  const gw = await serve(t, upstream.url, { GATEHOUSE_SHUTDOWN_GRACE_PERIOD: '300ms' })
  const inFlight = fetch(`${gw.url}/endless`).then(r => r.status, () => 'cut')
  await upstream.arrived
  gw.child.kill('SIGTERM')
  const [code] = await once(gw.child, 'exit') as [number | null]
  t.equal(code, 0, 'exit 0')
  t.ok(gw.lines.some(l => l.includes('grace period over; exiting with requests still open')), 'the log says it')
  t.equal(await inFlight, 'cut', 'the request past the grace period was cut, as configured')
})
