/**
 * A fixed offered load in a process of its own, the way wrk2 offers one:
 * request i is due at start + i / rate whether or not earlier ones were
 * answered (an open loop over a pool of keep-alive connections), and its
 * latency counts from when it was due, so that a slow answer delays the
 * requests queued behind it in the figures too (no coordinated omission).
 * Latencies are kept in microseconds, but for the first second's (warm-up). autocannon's own rate limit sends each
 * second's budget in a burst and keeps whole milliseconds, too coarse for a
 * goal of 1 ms. Reads its options as JSON from argv[2]; prints the summary
 * as one JSON line, in the form of autocannon-run.ts.
 */
import { Agent, request } from 'node:http'

interface Options { url: string, connections: number, seconds: number, headers: Record<string, string>, rate: number }

const opts = JSON.parse(process.argv[2] ?? '{}') as Options
const agent = new Agent({ keepAlive: true, maxSockets: opts.connections })
const total = Math.max(1, Math.round(opts.rate * opts.seconds))
const intervalNs = 1e9 / opts.rate
/** Requests due in the first quarter of the run, at most a second, open the connections and warm up: their latency is not kept. */
const warmup = Math.min(Math.round(opts.rate), Math.round(total / 4))
const latenciesUs: number[] = []
let errors = 0
let non2xx = 0
let answered = 0

const started = process.hrtime.bigint()
const dueAt = (i: number): bigint => started + BigInt(Math.round(i * intervalNs))

function send (due: bigint, kept: boolean): void {
  const req = request(opts.url, { agent, headers: opts.headers }, res => {
    res.resume()
    res.on('end', () => {
      answered++
      const status = res.statusCode ?? 0
      if (status < 200 || status >= 400) non2xx++
      else if (kept) latenciesUs.push(Number(process.hrtime.bigint() - due) / 1000)
      finish()
    })
  })
  req.on('error', () => { errors++; answered++; finish() })
  req.end()
}

let sent = 0
/** Sends every request that is due; Node's timers wake it about every millisecond. */
function pump (): void {
  const now = process.hrtime.bigint()
  while (sent < total && dueAt(sent) <= now) {
    send(dueAt(sent), sent >= warmup)
    sent++
  }
  if (sent < total) setTimeout(pump, Math.max(0, Math.floor(Number(dueAt(sent) - now) / 1e6)))
}

function percentile (sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function finish (): void {
  if (answered < total) return
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const sorted = latenciesUs.sort((a, b) => a - b)
  const ms = (us: number): number => Number((us / 1000).toFixed(3))
  process.stdout.write(`${JSON.stringify({ requests: answered, rps: answered / seconds, p50: ms(percentile(sorted, 50)), p99: ms(percentile(sorted, 99)), errors, non2xx })}\n`)
  agent.destroy()
}

pump()
