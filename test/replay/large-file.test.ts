import { createWriteStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { createGzip } from 'node:zlib'
import t from 'tap'
import { runReplayCommand } from '../../src/replay/replay-command.js'
import { loadPolicy } from '../../src/policy/load-policy.js'
import { decisionLine } from '../helpers/decision-records.js'

/**
 * Replay streams: a file of many records (gzip, as rotated audit logs are)
 * is read in constant memory. Memory is compared, not time: the rate is
 * printed for people.
 */
const RECORDS = 200_000
/** Holding the file's lines (about 560 bytes each) would take over 200 MB; streaming needs a fraction of this. */
const RSS_GROWTH_LIMIT = 128 * 1024 * 1024

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

  global.gc?.()
  const before = process.memoryUsage().rss
  let out = ''
  const started = process.hrtime.bigint()
  const code = await runReplayCommand({ decisions: [file], since: undefined, allowChanges: true, json: true }, () => loadPolicy(policyFile, { defaultUpstream: undefined }).policy, { out: text => { out += text }, err: text => { out += text } })
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  const growth = process.memoryUsage().rss - before
  t.equal(code, 0)
  const summary = JSON.parse(out) as { records: number, changed: number, newly_denied_users: string[] }
  t.equal(summary.records, RECORDS)
  t.equal(summary.changed, RECORDS / 10)
  t.same(summary.newly_denied_users, ['bob'])
  t.ok(growth < RSS_GROWTH_LIMIT, `resident memory grew by ${Math.round(growth / 1048576)} MB (limit ${RSS_GROWTH_LIMIT / 1048576} MB)`)
  t.comment(`replayed ${RECORDS} records in ${seconds.toFixed(1)} s (${Math.round(RECORDS / seconds)} records/s), resident memory +${Math.round(growth / 1048576)} MB`)
})
