import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import t from 'tap'
import { isAccessLine } from '../helpers/log-capture.js'
import { serveProcess } from '../helpers/serve-process.js'

/**
 * SIGTERM while four request loops keep the gateway busy (each request
 * names itself with X-Request-Id, which the gateway adopts). Every request
 * the gateway accepted (logged as incoming) completes (logged with its
 * status, answered 200, or 503 on a connection that was closing); a client
 * sees only such answers or a connection refused or closed before the
 * request was accepted; every request the upstream received was answered
 * to its client; and the process exits 0 well inside the grace period.
 */
t.test('SIGTERM under load', async t => {
  const seenUpstream = new Set<string>()
  const sockets = new Set<Socket>()
  const upstream = createServer((req, res) => {
    seenUpstream.add(String(req.headers['x-request-id']))
    // The upstream takes a moment, so that requests are in flight when the signal comes.
    setTimeout(() => res.end('done'), 20 + Math.floor(Math.random() * 40))
  })
  upstream.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { for (const s of sockets) s.destroy(); upstream.close() })
  const gw = await serveProcess(t, `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, { GATEHOUSE_SHUTDOWN_GRACE_PERIOD: '20s' })

  const outcomes = new Map<string, number | string>()
  let answered = 0
  let enough: () => void = () => {}
  const started = new Promise<void>(resolve => { enough = resolve })
  const loop = async (n: number): Promise<void> => {
    for (let i = 0; ; i++) {
      const id = `load-${n}-${i}`
      try {
        const res = await fetch(`${gw.url}/work/${i}`, { headers: { 'x-request-id': id }, signal: AbortSignal.timeout(30_000) })
        await res.text()
        outcomes.set(id, res.status)
        if (++answered === 40) enough()
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
        outcomes.set(id, code)
        // Once nothing accepts connections, the gateway is gone.
        if (code === 'ECONNREFUSED' || code === 'TimeoutError') return
      }
    }
  }
  const loops = Promise.all([0, 1, 2, 3].map(loop))
  await started
  gw.child.kill('SIGTERM')
  const [code] = await once(gw.child, 'exit') as [number | null]
  await loops

  t.equal(code, 0, 'exit 0')
  const records = gw.records()
  t.notOk(records.some(r => r.event === 'shutdown.grace_period_over'), 'inside the grace period')
  const shutdownAt = records.findIndex(r => r.event === 'shutdown.started')
  t.ok(shutdownAt > 0, 'the log says it shut down')
  // No line is written when a request arrives (src/log/access-log.ts): the requests the gateway accepted are those that reached the upstream.
  const incoming = seenUpstream
  const completed = new Map(records.filter(isAccessLine).map(r => [String(r.reqId ?? ''), (r.res as { statusCode?: number }).statusCode]))
  t.ok(records.slice(shutdownAt).some(isAccessLine), 'requests were still completing after the signal')

  const tally: Record<string, number> = {}
  for (const o of outcomes.values()) tally[String(o)] = (tally[String(o)] ?? 0) + 1
  t.comment(`outcomes: ${JSON.stringify(tally)}; ${incoming.size} accepted, ${records.slice(shutdownAt).filter(isAccessLine).length} completed after the signal`)
  const statuses = [...outcomes.values()].filter(o => typeof o === 'number')
  const errors = [...outcomes].filter(([, o]) => typeof o === 'string')
  t.same([...new Set(statuses)].filter(s => s !== 200 && s !== 503), [], `clients got 200 or 503 only (${statuses.length} answers)`)
  t.same([...new Set(errors.map(([, o]) => o))].filter(o => !['ECONNREFUSED', 'ECONNRESET', 'UND_ERR_SOCKET'].includes(String(o))), [], 'and otherwise only a refused or closed connection')
  t.same([...incoming].filter(id => !completed.has(id)), [], 'every accepted request completed')
  t.same(errors.filter(([id]) => incoming.has(id)).map(([id, o]) => `${id}: ${String(o)}`), [], 'no client of an accepted request got an error instead of its answer')
  t.same([...seenUpstream].filter(id => outcomes.get(id) !== 200), [], 'every request the upstream received was answered 200 to its client')
  t.same([...outcomes].filter(([, o]) => o === 200).map(([id]) => id).filter(id => !seenUpstream.has(id)), [], 'and every 200 came from the upstream')
})
