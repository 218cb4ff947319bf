import type { Policy } from '../policy/load-policy.js'
import { policyTestsVerdict } from './guard.js'
import type { CommandIo } from './test-command.js'

/** `gatehouse check` with policy.tests: the cases the gateway would hold a reload to. */
export function checkPolicyTests (policy: Policy, tests: string, io: CommandIo): number {
  const verdict = policyTestsVerdict(policy, tests)
  for (const p of verdict.problems) io.err(`${p.where}: ${p.severity}: ${p.message}\n`)
  if (verdict.failed > 0) {
    io.err(`policy tests (${tests}): ${verdict.passed} passed, ${verdict.failed} failed; not valid\n`)
    return 1
  }
  io.out(`policy tests OK: ${tests}: ${verdict.passed} passed\n`)
  return 0
}
