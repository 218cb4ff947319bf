import { spawnSync } from 'node:child_process'
import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createGzip } from 'node:zlib'
import t from 'tap'
import { decisionLine } from '../helpers/decision-records.js'

/**
 * Replay streams: a file of many records (gzip, as rotated audit logs are)
 * is read in constant memory: the replay runs under a heap limit far below
 * the file's size. The rate is printed for people, never asserted.
 */
const RECORDS = 200_000
/** The replaying process's heap: far less than the file's lines (about 560 bytes each), enough for streaming. */
const HEAP_LIMIT_MB = 48

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-replay-large-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test(`${RECORDS} records are replayed in bounded memory`, async t => {
  const policyFile = join(dir, 'policy.yaml')
  writeFileSync(policyFile, 'upstreams: { app: { url: http://127.0.0.1:3000 } }\nroutes:\n  - name: reports\n    match: { path: /reports/** }\n    upstream: app\n    allow:\n      - groups: [finance]\n  - name: rest\n    match: { path: /** }\n    upstream: app\n    allow: authenticated\n')
  const file = join(dir, 'audit.log.gz')
  const gzip = createGzip({ level: 1 })
  const done = once(gzip.pipe(createWriteStream(file)), 'finish')
  // Every tenth record was allowed under an older policy that let staff read reports: it changes.
  const templates = Array.from({ length: 10 }, (_, i) => i === 0
    ? decisionLine({ path: '/reports/q1', route: 'reports', decision: 'allow', reason: 'allowed', user: 'bob', groups: ['staff'] })
    : decisionLine({ path: `/app/page/${i}`, route: 'rest', decision: 'allow', reason: 'authenticated', user: `user${i}`, groups: ['staff'] }))
  let chunk: string[] = []
  for (let i = 0; i < RECORDS; i++) {
    chunk.push(templates[i % 10] as string)
    if (chunk.length === 10_000) {
      if (!gzip.write(`${chunk.join('\n')}\n`)) await once(gzip, 'drain')
      chunk = []
    }
  }
  gzip.end()
  await done
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
  t.comment(`replayed ${RECORDS} records (${Math.round(statSync(file).size / 1048576)} MB gzip, ${Math.round(RECORDS * (templates[1] ?? '').length / 1048576)} MB of lines) with a ${HEAP_LIMIT_MB} MB heap in ${seconds.toFixed(1)} s: ${Math.round(RECORDS / seconds)} records/s`)
})
