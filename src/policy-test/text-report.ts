import type { Actual, CaseResult, TestRun, Uncovered } from './run-tests.js'

/** `file:line` of a `file:line:col` position. */
export function fileLine (where: string): string {
  return where.replace(/:\d+:\d+$/, m => m.slice(0, m.lastIndexOf(':')))
}

/** "deny (route admin, reason group_required, rule policies/example.yaml:21)" */
export function describeActual (a: Actual): string {
  const parts = [a.route === undefined ? undefined : `route ${a.route}`, a.reason === undefined ? undefined : `reason ${a.reason}`, a.rule === undefined ? undefined : `rule ${fileLine(a.rule)}`]
  const known = parts.filter(p => p !== undefined)
  return known.length === 0 ? a.decision : `${a.decision} (${known.join(', ')})`
}

/** What a failing case expected and what happened, in one line. */
export function failureText (r: CaseResult): string {
  const e = r.case.expect
  const extra = (['route', 'reason', 'upstream', 'rule'] as const).filter(k => e[k] !== undefined).map(k => `${k} ${e[k] ?? ''}`)
  return `expected ${e.decision}${extra.length === 0 ? '' : ` (${extra.join(', ')})`}, got ${describeActual(r.actual)}${r.actual.upstream === undefined || e.upstream === undefined ? '' : ` upstream ${r.actual.upstream}`}`
}

export function uncoveredText (u: Uncovered): string {
  return `${u.kind === 'route' ? 'route' : `${u.kind} entry`} of ${u.route} at ${fileLine(u.where)}`
}

/** One line per case, the coverage when asked for, then the totals. */
export function textReport (run: TestRun, coverage: boolean): string {
  const lines = run.results.map(r => r.ok ? `ok      ${r.case.where}  ${r.case.name}` : `not ok  ${r.case.where}  ${r.case.name}: ${failureText(r)}`)
  if (coverage) {
    if (run.uncovered.length === 0) lines.push('coverage: every route and every allow/deny entry is reached')
    else lines.push(`coverage: ${run.uncovered.length} not reached by any case:`, ...run.uncovered.map(u => `  ${uncoveredText(u)}`))
  }
  lines.push(`${run.passed} passed, ${run.failed} failed`)
  return `${lines.join('\n')}\n`
}
