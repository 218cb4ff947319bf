import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { replayPolicy, writeDecisionLog } from '../helpers/decision-records.js'

/**
 * Replay streams: a file of many records (gzip, as rotated audit logs are)
 * is read in constant memory: the replay runs under a heap limit far below
 * the file's size. The rate is printed for people, never asserted.
 */
const RECORDS = 200_000
/** The replaying process's heap: far less than the file's lines (about 560 bytes each), enough for streaming (lower limits make V8 collect almost without pause). */
const HEAP_LIMIT_MB = 64

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replay-large-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test(`${RECORDS} records are replayed in bounded memory`, async t => {
  const policyFile = join(dir, 'policy.yaml')
  writeFileSync(policyFile, replayPolicy)
  const file = join(dir, 'audit.log.gz')
  const { lineBytes } = await writeDecisionLog(file, RECORDS)
  t.ok(statSync(file).size > 0)

  // The replay runs with a heap far smaller than the file's lines: it finishes only if it streams.
  const started = process.hrtime.bigint()
  const result = spawnSync(process.execPath, [`--max-old-space-size=${HEAP_LIMIT_MB}`, 'dist/cli.js', 'replay', '--policies', policyFile, '--decisions', file, '--allow-changes', '--json'], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  t.equal(result.status, 0, result.stderr)
  const summary = JSON.parse(result.stdout) as { records: number, changed: number, newly_denied_users: string[] }
  t.equal(summary.records, RECORDS)
  t.equal(summary.changed, RECORDS / 10)
  t.same(summary.newly_denied_users, ['bob'])
  t.comment(`replayed ${RECORDS} records (${Math.round(statSync(file).size / 1048576)} MB gzip, ${Math.round(RECORDS * lineBytes / 1048576)} MB of lines) with a ${HEAP_LIMIT_MB} MB heap in ${seconds.toFixed(1)} s: ${Math.round(RECORDS / seconds)} records/s`)
})
