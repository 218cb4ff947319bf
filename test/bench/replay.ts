/**
 * `gatehouse replay` over a million decision records (a gzip audit log, as
 * rotated logs are), run as the CLI runs, and over a tenth of them: the time
 * and rate of the large run, and the peak RSS of both, which is the same if
 * memory is flat. Both run with a 64 MB heap limit, far below the records'
 * size, so they can only finish by streaming. Prints the goals beside the
 * figures; nothing here asserts timings: run it with `npm run bench:replay`.
 */
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { replayPolicy, writeDecisionLog } from '../helpers/decision-records.js'
import { saveResult } from './save-result.js'

const RECORDS = Number(process.env.BENCH_REPLAY_RECORDS ?? 1_000_000)
/** Far below the records' size; lower limits make V8 collect so often that the time measures the collector (48 MB: 14x slower). */
const HEAP_LIMIT_MB = 64

/** The resident set of a process in KiB, from /proc. */
function residentKb (pid: number | undefined): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return match === null ? 0 : Number(match[1])
}

async function replay (policyFile: string, file: string, records: number): Promise<{ seconds: number, peakMb: number }> {
  const started = process.hrtime.bigint()
  const child = spawn(process.execPath, [`--max-old-space-size=${HEAP_LIMIT_MB}`, 'dist/cli.js', 'replay', '--policies', policyFile, '--decisions', file, '--allow-changes', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d })
  let peakKb = 0
  const sampler = setInterval(() => {
    try {
      peakKb = Math.max(peakKb, residentKb(child.pid))
    } catch { /* the process has just ended */ }
  }, 50)
  const [code] = await once(child, 'exit') as [number | null]
  clearInterval(sampler)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  if (code !== 0) throw new Error(`gatehouse replay exited with ${code}`)
  const summary = JSON.parse(out) as { records: number, changed: number }
  if (summary.records !== records || summary.changed !== records / 10) throw new Error(`unexpected summary: ${out.slice(0, 200)}`)
  return { seconds, peakMb: Math.round(peakKb / 1024) }
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-replay-'))
try {
  const policyFile = join(dir, 'policy.yaml')
  writeFileSync(policyFile, replayPolicy)
  const small = join(dir, 'small.log.gz')
  const large = join(dir, 'large.log.gz')
  await writeDecisionLog(small, RECORDS / 10)
  const { lineBytes } = await writeDecisionLog(large, RECORDS)
  const a = await replay(policyFile, small, RECORDS / 10)
  const b = await replay(policyFile, large, RECORDS)
  const rate = Math.round(RECORDS / b.seconds)
  console.log(`replay: ${RECORDS.toLocaleString('en')} decision records (${Math.round(statSync(large).size / 1048576)} MB gzip, ${Math.round(RECORDS * lineBytes / 1048576)} MB of JSON lines), ${HEAP_LIMIT_MB} MB heap limit`)
  console.log(`  time       ${b.seconds.toFixed(1)} s (${rate.toLocaleString('en')} records/s)    goal: well under 60 s`)
  console.log(`  peak RSS   ${b.peakMb} MB; ${a.peakMb} MB for a tenth of the records    goal: flat`)
  saveResult('replay', { records: RECORDS, seconds: b.seconds, recordsPerSecond: rate, peakRssMb: b.peakMb, peakRssMbTenth: a.peakMb })
} finally {
  rmSync(dir, { recursive: true, force: true })
}
