import { failureText, uncoveredText } from './text-report.js'
import type { TestRun } from './run-tests.js'

/** TAP version 14: one test point per case, and one for coverage when it is required. */
export function tapReport (run: TestRun, requireCoverage: boolean): string {
  const lines = ['TAP version 14', `1..${run.results.length + (requireCoverage ? 1 : 0)}`]
  run.results.forEach((r, i) => {
    const title = `${r.case.name} (${r.case.where})`.replace(/#/g, '\\#')
    lines.push(r.ok ? `ok ${i + 1} - ${title}` : `not ok ${i + 1} - ${title}`)
    if (!r.ok) lines.push('  ---', `  message: ${JSON.stringify(failureText(r))}`, '  ...')
  })
  if (requireCoverage) {
    const n = run.results.length + 1
    lines.push(run.uncovered.length === 0 ? `ok ${n} - coverage` : `not ok ${n} - coverage`)
    if (run.uncovered.length > 0) lines.push('  ---', '  not_reached:', ...run.uncovered.map(u => `    - ${JSON.stringify(uncoveredText(u))}`), '  ...')
  }
  return `${lines.join('\n')}\n`
}
