import { ConfigError, type Problem } from '../errors.js'
import type { Policy } from '../policy/load-policy.js'
import { junitReport } from './junit-report.js'
import { runPolicyTests } from './run-tests.js'
import { tapReport } from './tap-report.js'
import { loadTestFiles, testFilePaths } from './test-files.js'
import { textReport } from './text-report.js'

export interface TestCommandOptions {
  readonly files: readonly string[]
  readonly reporter: string | undefined
  readonly coverage: boolean
  readonly requireCoverage: boolean
}

export interface CommandIo {
  readonly out: (text: string) => void
  readonly err: (text: string) => void
}

const REPORTERS = ['text', 'junit', 'tap'] as const

/**
 * `gatehouse test`: runs the cases of the test files against the policy.
 * Exit 0 when every case passes (and, with --require-coverage, every route
 * and entry is reached), 1 when not, 2 for bad usage or bad test files.
 */
export function runTestCommand (opts: TestCommandOptions, load: () => { policy: Policy, source: string | undefined }, io: CommandIo): number {
  const reporter = opts.reporter ?? 'text'
  if (!(REPORTERS as readonly string[]).includes(reporter)) {
    io.err(`gatehouse test: --reporter must be one of ${REPORTERS.join(', ')}\n`)
    return 2
  }
  let loaded
  try {
    loaded = load()
  } catch (err) {
    if (err instanceof ConfigError) {
      printProblems(err.problems, io)
      io.err('gatehouse test: the policy is not valid\n')
      return 1
    }
    throw err
  }
  const problems: Problem[] = []
  const files = testFilePaths(opts.files, loaded.source, problems)
  const tests = loadTestFiles(files)
  problems.push(...tests.problems)
  if (problems.some(p => p.severity === 'error')) {
    printProblems(problems, io)
    io.err(`${problems.filter(p => p.severity === 'error').length} error(s) in the test files; no case was run\n`)
    return 2
  }
  printProblems(problems, io)
  const run = runPolicyTests(loaded.policy, tests.cases)
  const coverage = opts.coverage || opts.requireCoverage
  io.out(reporter === 'junit' ? junitReport(run, opts.requireCoverage) : reporter === 'tap' ? tapReport(run, opts.requireCoverage) : textReport(run, coverage))
  if (run.failed > 0) return 1
  return opts.requireCoverage && run.uncovered.length > 0 ? 1 : 0
}

function printProblems (problems: readonly Problem[], io: CommandIo): void {
  for (const p of problems) io.err(`${p.where}: ${p.severity}: ${p.message}\n`)
}
