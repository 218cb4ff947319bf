/**
 * One autocannon run in a process of its own, so that the load generator's
 * work never shares an event loop with a server under test. Reads its options
 * as JSON from argv[2]; prints the summary as one JSON line.
 */
import { readFileSync } from 'node:fs'
import autocannon from 'autocannon'

interface Options { url: string, connections: number, seconds: number, headers: Record<string, string>, cookieFile?: string }

const opts = JSON.parse(process.argv[2] ?? '{}') as Options
const cookies = opts.cookieFile === undefined ? [] : readFileSync(opts.cookieFile, 'utf8').split('\n').filter(Boolean)
let next = 0
const result = await autocannon({
  url: opts.url,
  connections: opts.connections,
  duration: opts.seconds,
  pipelining: 1,
  headers: opts.headers,
  // Many sessions: each request carries the next cookie of the list.
  ...(cookies.length === 0
    ? {}
    : { requests: [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, cookie: cookies[next++ % cookies.length] as string } }) }] }),
})
process.stdout.write(`${JSON.stringify({
  requests: result.requests.total,
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  errors: result.errors + result.timeouts,
  non2xx: result.non2xx,
})}\n`)
