import { once } from 'node:events'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import { serveProcess as serve } from './helpers/serve-process.js'

/** An upstream that holds every request until told to answer. */
async function heldUpstream (t: Test, expected = 1): Promise<{ url: string, arrived: Promise<void>, release: () => void }> {
  const held: ServerResponse[] = []
  let arrive: () => void = () => {}
  const arrived = new Promise<void>(resolve => { arrive = resolve })
  const server = createServer((_req, res) => { held.push(res); if (held.length === expected) arrive() })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, arrived, release: () => { for (const r of held) r.end('finished') } }
}

t.test('SIGTERM: stop accepting, finish the request in flight, exit 0', async t => {
  const upstream = await heldUpstream(t)
  const gw = await serve(t, upstream.url)
  const inFlight = fetch(`${gw.url}/report`)
  await upstream.arrived
  gw.child.kill('SIGTERM')
  await gw.saw(r => r.event === 'shutdown.started')
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
  t.ok(gw.records().some(r => r.event === 'shutdown.grace_period_over'), 'the log says it')
  t.equal(await inFlight, 'cut', 'the request past the grace period was cut, as configured')
})

t.test('SIGTERM with workers: 2: every worker finishes its request in flight, then the primary exits 0', async t => {
  const upstream = await heldUpstream(t, 2)
  const gw = await serve(t, upstream.url, { GATEHOUSE_WORKERS: '2', GATEHOUSE_REDIS_URL: process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379', GATEHOUSE_REDIS_KEY_PREFIX: `gatehouse-test-shutdown-${process.pid}:` })
  await gw.saw(r => r.event === 'workers.started')
  // Two requests at once take two connections, which node:cluster hands to the two workers in turn.
  const inFlight = [fetch(`${gw.url}/one`), fetch(`${gw.url}/two`)]
  await upstream.arrived
  gw.child.kill('SIGTERM')
  for (const worker of [1, 2]) await gw.saw(r => r.event === 'shutdown.started' && r.worker === worker)
  upstream.release()
  for (const res of await Promise.all(inFlight)) {
    t.equal(res.status, 200, 'the accepted request completed')
    t.equal(await res.text(), 'finished')
  }
  const [code] = await once(gw.child, 'exit') as [number | null]
  t.equal(code, 0, 'exit 0')
  t.ok(gw.records().some(r => r.event === 'shutdown.started' && r.module === 'workers'), 'the primary passed the signal on')
})
