/**
 * Drives a URL for a fixed time at a fixed number of connections, always from
 * a process of its own: wrk when it is installed (a small C program that
 * leaves more of the machine to the servers), else autocannon. Set
 * BENCH_LOADGEN=autocannon or =wrk to choose. A fixed offered load (`rate`)
 * is fixed-rate-run.ts's, which paces requests evenly and counts latency
 * from when each was due, in microseconds.
 */
import { execFileSync, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface LoadOptions {
  url: string
  connections: number
  seconds: number
  headers?: Record<string, string>
  /** A file with one Cookie header value a line: requests take them in turn (many sessions). */
  cookieFile?: string
  /** CPUs the load generator may run on (taskset list), when pinning. */
  cpus?: string
  /** Where a wrk script may be written. */
  dir: string
  /** Requests per second offered across all connections (a fixed load); as many as answered when not given. */
  rate?: number
}

export interface LoadResult {
  requests: number
  rps: number
  p50: number
  p99: number
  errors: number
  non2xx: number
}

export type LoadTool = 'wrk' | 'autocannon'

export function loadTool (): LoadTool {
  const wanted = process.env.BENCH_LOADGEN
  if (wanted === 'wrk' || wanted === 'autocannon') return wanted
  if (wanted !== undefined && wanted !== '') throw new Error(`BENCH_LOADGEN must be wrk or autocannon, not ${wanted}`)
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' })
    return 'wrk'
  } catch (err) {
    // wrk --version prints its banner and exits 1: being found is what counts.
    return (err as { code?: string }).code === 'ENOENT' ? 'autocannon' : 'wrk'
  }
}

export async function runLoad (tool: LoadTool, opts: LoadOptions): Promise<LoadResult> {
  if (opts.rate !== undefined) return await runFixedRate(opts, opts.rate)
  return tool === 'wrk' ? await runWrk(opts) : await runAutocannon(opts)
}

async function run (command: string, args: string[], cpus: string | undefined, env: Record<string, string> = {}): Promise<string> {
  const [cmd, argv] = cpus === undefined ? [command, args] : ['taskset', ['-c', cpus, command, ...args]]
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let out = ''
  let err = ''
  proc.stdout.on('data', (c: Buffer) => { out += c.toString() })
  proc.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const code = await new Promise<number | null>((resolve, reject) => { proc.once('exit', resolve); proc.once('error', reject) })
  if (code !== 0) throw new Error(`${command} exited ${String(code)}: ${err}${out}`)
  return out
}

async function runAutocannon (opts: LoadOptions): Promise<LoadResult> {
  const args = JSON.stringify({ url: opts.url, connections: opts.connections, seconds: opts.seconds, headers: opts.headers ?? {}, cookieFile: opts.cookieFile })
  const out = await run(process.execPath, ['--import', 'tsx', 'test/bench/autocannon-run.ts', args], opts.cpus)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult
}

async function runFixedRate (opts: LoadOptions, rate: number): Promise<LoadResult> {
  const args = JSON.stringify({ url: opts.url, connections: opts.connections, seconds: opts.seconds, headers: opts.headers ?? {}, rate })
  const out = await run(process.execPath, ['--import', 'tsx', 'test/bench/fixed-rate-run.ts', args], opts.cpus)
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as LoadResult
}

const WRK_SCRIPT = `
local cookies = {}
local file = os.getenv("BENCH_COOKIE_FILE")
if file then for line in io.lines(file) do if #line > 0 then cookies[#cookies + 1] = line end end end
local n = 0
if #cookies > 0 then
  request = function()
    n = n + 1
    return wrk.format(nil, nil, { Cookie = cookies[(n % #cookies) + 1] })
  end
end
`

async function runWrk (opts: LoadOptions): Promise<LoadResult> {
  const script = join(opts.dir, 'cookies.lua')
  writeFileSync(script, WRK_SCRIPT)
  const headers = Object.entries(opts.headers ?? {}).flatMap(([k, v]) => ['-H', `${k}: ${v}`])
  const env: Record<string, string> = opts.cookieFile === undefined ? {} : { BENCH_COOKIE_FILE: opts.cookieFile }
  const out = await run('wrk', ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--latency', '-s', script, ...headers, opts.url], opts.cpus, env)
  return parseWrk(out)
}

function ms (value: string, unit: string): number {
  const n = Number(value)
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : unit === 'm' ? n * 60_000 : n
}

/** Reads wrk's --latency report. */
export function parseWrk (out: string): LoadResult {
  const latency = (pct: string): number => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out)
    if (m === null) throw new Error(`no ${pct}% latency in wrk's output: ${out}`)
    return ms(m[1] as string, m[2] as string)
  }
  const total = /(\d+) requests in/.exec(out)
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (total === null || rps === null) throw new Error(`unexpected wrk output: ${out}`)
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    requests: Number(total[1]),
    rps: Number(rps[1]),
    p50: latency('50'),
    p99: latency('99'),
    errors: socket === null ? 0 : socket.slice(1).reduce((a, n) => a + Number(n), 0),
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0),
  }
}
