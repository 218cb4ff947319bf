import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { FaultProxy, type FaultMode } from '../helpers/fault-proxy.js'
import { freePort } from '../helpers/ports.js'
import { startRecordingUpstream } from '../helpers/recording-upstream.js'
import { startStack } from '../helpers/stack.js'
import { policyDir } from '../helpers/policy-files.js'

/**
 * An upstream that is down, resets, hangs up, answers garbage, never
 * answers (at the TCP level, or after reading the request), stalls or cuts
 * its body, or answers 503 with a long Retry-After,
 * each while requests to a healthy upstream run alongside. The faulty
 * route answers 502 or 504 (the timeout's own code, so it came from the
 * configured timeout, not a hang), a browser gets a short page saying so,
 * a response already begun is cut rather than left hanging, the healthy route keeps answering 200, the gateway
 * stays healthy, and the faulty route recovers as soon as its upstream does.
 */
t.test('upstream faults', async t => {
  // The real server behind the fault proxy: ordinary answers, and a few bad behaviours by path.
  const held = new Set<ServerResponse>()
  const sockets = new Set<Socket>()
  const counts = new Map<string, number>()
  const backend = createServer((req, res) => {
    const path = req.url ?? ''
    counts.set(path, (counts.get(path) ?? 0) + 1)
    if (path === '/silent/x') {
      held.add(res)
      return
    }
    if (path === '/flaky/stall') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' })
      res.write('the first part')
      held.add(res)
      return
    }
    if (path === '/flaky/cut') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '1000' })
      res.write('the first part', () => res.socket?.destroy())
      return
    }
    if (path === '/flaky/busy') {
      res.writeHead(503, { 'retry-after': '3600', 'content-type': 'text/plain' })
      res.end('come back in an hour')
      return
    }
    res.end('ok')
  })
  backend.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => backend.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); backend.close() })
  const proxy = await FaultProxy.start(t, { host: '127.0.0.1', port: (backend.address() as AddressInfo).port })
  const steady = await startRecordingUpstream(t)
  const closed = await freePort()
  const { file } = policyDir(t, `
upstreams:
  flaky: { url: ${proxy.url}, timeout: 1s }
  steady: { url: ${steady.url} }
  closed: { url: http://127.0.0.1:${closed} }
  silent: { url: ${proxy.url} }
routes:
  - { name: flaky, match: { path: /flaky/** }, upstream: flaky, allow: anyone }
  - { name: closed, match: { path: /closed/** }, upstream: closed, allow: anyone }
  - { name: silent, match: { path: /silent/** }, upstream: silent, allow: anyone }
  - { name: steady, match: { path: /steady/** }, upstream: steady, allow: anyone }
`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_UPSTREAM_TIMEOUT: '1s', GATEHOUSE_UPSTREAM_CONNECT_TIMEOUT: '1s', GATEHOUSE_LOG_LEVEL: 'warn' } })

  /** A request and what came of it: the status and code, and whether the whole body arrived. */
  const attempt = async (path: string): Promise<string> => {
    const signal = AbortSignal.timeout(20_000)
    try {
      const res = await fetch(`${stack.url}${path}`, { signal, headers: { accept: 'application/json' } })
      let body: string
      try {
        body = await res.text()
      } catch {
        return signal.aborted ? 'hang' : `${res.status} body cut`
      }
      const code = /"code":"(GH_[A-Z_]+)"/.exec(body)?.[1]
      return code === undefined ? String(res.status) : `${res.status} ${code}`
    } catch (err) {
      return signal.aborted ? 'hang' : `error ${(err as { cause?: { code?: string } }).cause?.code ?? 'unknown'}`
    }
  }

  // [case, proxy mode, path, what each request gets]
  const cases: Array<[string, FaultMode, string, string]> = [
    ['nothing listening', 'pass', '/closed/x', '502 GH_UPSTREAM_UNAVAILABLE'],
    ['connections reset', 'reset', '/flaky/x', '502 GH_UPSTREAM_UNAVAILABLE'],
    ['closed without an answer', 'hangup', '/flaky/x', '502 GH_UPSTREAM_UNAVAILABLE'],
    ['an answer that is not HTTP', 'garbage', '/flaky/x', '502 GH_UPSTREAM_UNAVAILABLE'],
    ['accepted, never answered', 'blackhole', '/flaky/x', '504 GH_UPSTREAM_TIMEOUT'],
    ['read, never answered, with the global timeout', 'pass', '/silent/x', '504 GH_UPSTREAM_TIMEOUT'],
    ['a body that stalls', 'pass', '/flaky/stall', '200 body cut'],
    ['a body cut short', 'pass', '/flaky/cut', '200 body cut'],
    ['503 with Retry-After: passed on at once, not retried', 'pass', '/flaky/busy', '503'],
  ]
  for (const [name, mode, path, expected] of cases) {
    t.test(name, async t => {
      proxy.mode = mode
      const before = counts.get(path) ?? 0
      const steadyBefore = steady.seen.length
      const [faulty, healthy] = await Promise.all([
        Promise.all(Array.from({ length: 6 }, async () => await attempt(path))),
        Promise.all(Array.from({ length: 6 }, async () => await attempt('/steady/x'))),
      ])
      t.same(faulty, Array(6).fill(expected), `every request to the faulty upstream: ${expected}`)
      t.same(healthy, Array(6).fill('200'), 'the healthy upstream answered every request meanwhile')
      t.equal(steady.seen.length - steadyBefore, 6)
      if (mode === 'pass' && !path.startsWith('/closed/')) t.equal((counts.get(path) ?? 0) - before, 6, 'the upstream got each request once (no retries)')
      t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'the gateway is healthy')
      proxy.mode = 'pass'
      t.equal(await attempt('/flaky/x'), '200', 'and the route recovers with its upstream')
    })
  }
  t.test('a browser gets a short page saying the application is not answering', async t => {
    const page = await fetch(`${stack.url}/closed/anything`, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } })
    t.equal(page.status, 502)
    t.match(await page.text(), /The application behind the gateway is not answering/)
  })
  for (const res of held) res.destroy()
})
