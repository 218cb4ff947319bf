import type { Readiness } from './readiness.js'

/** One worker's answer to /readyz; undefined when it did not answer in time. */
export interface WorkerReadiness {
  worker: number
  pid: number | undefined
  readiness: Readiness | undefined
}

interface PolicyBody { hash?: string, loaded_at?: string, reloads?: number, failed_reloads?: number, errors?: number, tests_failed?: number }

/** Values every check is fine with: a check whose workers disagree reports the first other value. */
const FINE = new Set(['ok', 'exact'])

/**
 * /readyz of a gateway with several worker processes: ready when every
 * running worker answered ready (a worker waiting to be replaced is not
 * running, and shows in `checks.workers`). Each check is the same as one
 * process would report when the workers agree, and the worst of their values
 * when they do not; the policy is `reloading` while the workers hold
 * different policies.
 */
export function clusterReadiness (answers: readonly WorkerReadiness[], configured: number): Readiness {
  const answered = answers.filter(a => a.readiness !== undefined)
  const readyCount = answered.filter(a => a.readiness?.ready === true).length
  const ready = answers.length > 0 && readyCount === answers.length
  const checks: Record<string, unknown> = {}
  const keys = new Set(answered.flatMap(a => Object.keys(checksOf(a))))
  for (const key of keys) {
    const values = answered.map(a => checksOf(a)[key])
    checks[key] = values.find(v => typeof v === 'string' && !FINE.has(v) && values.some(other => other !== v)) ?? values[0]
  }
  const policies = answered.map(a => (a.readiness?.body.policy ?? {}) as PolicyBody)
  const hashes = [...new Set(policies.map(p => p.hash).filter(h => h !== undefined))]
  if (hashes.length > 1 && (checks.policy === 'ok' || checks.policy === undefined)) checks.policy = 'reloading'
  checks.workers = `${readyCount}/${configured} ready`
  const most = (field: 'reloads' | 'failed_reloads' | 'errors' | 'tests_failed'): number => Math.max(0, ...policies.map(p => p[field] ?? 0))
  return {
    ready,
    body: {
      status: ready ? 'ready' : 'not_ready',
      checks,
      policy: {
        hash: hashes.length === 1 ? hashes[0] : null,
        ...(hashes.length > 1 ? { hashes } : {}),
        loaded_at: policies.map(p => p.loaded_at).filter(t => t !== undefined).sort().at(-1),
        reloads: most('reloads'),
        failed_reloads: most('failed_reloads'),
        errors: most('errors'),
        tests_failed: most('tests_failed'),
      },
      workers: answers.map(a => ({
        worker: a.worker,
        pid: a.pid,
        status: a.readiness === undefined ? 'no_answer' : a.readiness.body.status,
        policy_hash: ((a.readiness?.body.policy ?? {}) as PolicyBody).hash,
      })),
    },
  }
}

function checksOf (answer: WorkerReadiness): Record<string, unknown> {
  return (answer.readiness?.body.checks ?? {}) as Record<string, unknown>
}
