import type { Problem } from '../errors.js'
import type { Policy } from '../policy/load-policy.js'
import type { PolicyGate } from '../policy/policy-store.js'
import { runPolicyTests } from './run-tests.js'
import { loadTestFiles, testFilePaths } from './test-files.js'
import { failureText } from './text-report.js'

export interface TestsVerdict {
  /** Failing cases, plus problems in the test files themselves. */
  readonly failed: number
  readonly passed: number
  /** One per failing case (file:line, name, what happened) or test file problem (file:line:col). */
  readonly problems: readonly Problem[]
}

/**
 * `policy.tests`: the cases a policy must pass before it goes live, at
 * start-up, on every reload and in `gatehouse check`. The files are read
 * each time, so an edit may change the policy and its tests together.
 */
export function policyTestsVerdict (policy: Policy, testsPath: string): TestsVerdict {
  const problems: Problem[] = []
  const files = testFilePaths([testsPath], undefined, problems)
  const loaded = loadTestFiles(files)
  problems.push(...loaded.problems)
  const fileErrors = problems.filter(p => p.severity === 'error').length
  const run = runPolicyTests(policy, loaded.cases)
  for (const r of run.results) if (!r.ok) problems.push({ where: r.case.where, message: `policy test failed: ${r.case.name}: ${failureText(r)}`, severity: 'error' })
  return { failed: run.failed + fileErrors, passed: run.passed, problems }
}

/** The policy store's gate for `policy.tests`, or none when it is not set. */
export function policyGate (testsPath: string | undefined): PolicyGate | undefined {
  return testsPath === undefined ? undefined : policy => policyTestsVerdict(policy, testsPath)
}
