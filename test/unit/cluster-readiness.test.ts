import t from 'tap'
import { clusterReadiness, type WorkerReadiness } from '../../src/server/cluster-readiness.js'
import type { Readiness } from '../../src/server/readiness.js'

function worker (id: number, ready: boolean, checks: Record<string, string>, hash = 'h1', reloads = 0): WorkerReadiness {
  const readiness: Readiness = { ready, body: { status: ready ? 'ready' : 'not_ready', checks, policy: { hash, loaded_at: `2026-01-01T00:00:0${id}.000Z`, reloads, failed_reloads: 0, errors: 0, tests_failed: 0 } } }
  return { worker: id, pid: 1000 + id, readiness }
}

const fine = { session_store: 'ok', idp_metadata: 'ok', policy: 'ok', session_cache: 'exact' }

t.test('every worker ready: ready, with the checks one process would report', async t => {
  const merged = clusterReadiness([worker(1, true, fine), worker(2, true, fine, 'h1', 1)], 2)
  t.equal(merged.ready, true)
  t.same(merged.body.checks, { ...fine, workers: '2/2 ready' })
  t.match(merged.body.policy, { hash: 'h1', reloads: 1, loaded_at: '2026-01-01T00:00:02.000Z' })
  t.same((merged.body.workers as unknown[]).length, 2)
})

t.test('one worker not ready: not ready, and the check that failed is the one reported', async t => {
  const merged = clusterReadiness([worker(1, true, fine), worker(2, false, { ...fine, session_store: 'unavailable' })], 2)
  t.equal(merged.ready, false)
  t.equal(merged.body.status, 'not_ready')
  t.equal((merged.body.checks as Record<string, string>).session_store, 'unavailable')
  t.equal((merged.body.checks as Record<string, string>).workers, '1/2 ready')
})

t.test('a worker that does not answer is not ready', async t => {
  const merged = clusterReadiness([worker(1, true, fine), { worker: 2, pid: 1002, readiness: undefined }], 2)
  t.equal(merged.ready, false)
  t.match(merged.body.workers, [{ worker: 1, status: 'ready' }, { worker: 2, status: 'no_answer' }])
})

t.test('a worker being replaced does not make the others not ready, and shows in checks.workers', async t => {
  const merged = clusterReadiness([worker(1, true, fine)], 2)
  t.equal(merged.ready, true)
  t.equal((merged.body.checks as Record<string, string>).workers, '1/2 ready')
})

t.test('workers holding different policies: the policy is reloading, and each hash is listed', async t => {
  const merged = clusterReadiness([worker(1, true, fine, 'h1'), worker(2, true, fine, 'h2', 1)], 2)
  t.equal((merged.body.checks as Record<string, string>).policy, 'reloading')
  t.match(merged.body.policy, { hash: null, hashes: ['h1', 'h2'] })
  const failed = clusterReadiness([worker(1, true, fine, 'h1'), worker(2, true, { ...fine, policy: 'reload_failed' }, 'h1')], 2)
  t.equal((failed.body.checks as Record<string, string>).policy, 'reload_failed', 'a failed reload is reported as such')
})

t.test('no worker running: not ready', async t => {
  t.equal(clusterReadiness([], 2).ready, false)
})
