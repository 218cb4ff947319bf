import { failureText, uncoveredText } from './text-report.js'
import type { TestRun } from './run-tests.js'

const xml = (text: string): string => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** JUnit XML: one testsuite per test file, one testcase per case (and one for coverage when required). */
export function junitReport (run: TestRun, requireCoverage: boolean): string {
  const byFile = new Map<string, string[]>()
  let failures = run.failed
  for (const r of run.results) {
    const file = r.case.where.replace(/:\d+$/, '')
    const cases = byFile.get(file) ?? []
    byFile.set(file, cases)
    const open = `    <testcase classname="${xml(file)}" name="${xml(r.case.name)}" file="${xml(file)}" line="${r.case.where.slice(file.length + 1)}"`
    cases.push(r.ok ? `${open}/>` : `${open}>\n      <failure message="${xml(failureText(r))}"/>\n    </testcase>`)
  }
  const suites = [...byFile].map(([file, cases]) => {
    const failed = cases.filter(c => c.includes('<failure')).length
    return `  <testsuite name="${xml(file)}" tests="${cases.length}" failures="${failed}">\n${cases.join('\n')}\n  </testsuite>`
  })
  let tests = run.results.length
  if (requireCoverage) {
    tests++
    const missing = run.uncovered.map(uncoveredText).join('; ')
    if (missing !== '') failures++
    suites.push(`  <testsuite name="coverage" tests="1" failures="${missing === '' ? 0 : 1}">\n    <testcase classname="coverage" name="every route and allow/deny entry is reached"${missing === '' ? '/>' : `>\n      <failure message="${xml(`not reached: ${missing}`)}"/>\n    </testcase>`}\n  </testsuite>`)
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="gatehouse policy tests" tests="${tests}" failures="${failures}">\n${suites.join('\n')}\n</testsuites>\n`
}
