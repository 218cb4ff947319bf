import { MAX_LISTED_USERS, MAX_TRACKED_USERS, type ReplaySummary } from './replay-records.js'
import type { SkipCounts } from './read-records.js'

const sorted = (map: Map<string, number>): Array<[string, number]> => [...map].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))

/** The summary for tools (`--json`). */
export function replayJson (s: ReplaySummary, skipped: SkipCounts): Record<string, unknown> {
  return {
    records: s.records,
    changed: s.changed,
    skipped: Object.fromEntries(skipped),
    changes: Object.fromEntries(sorted(s.changes)),
    routes: Object.fromEntries([...s.routes].sort((a, b) => a[0].localeCompare(b[0]))),
    rules: Object.fromEntries(sorted(s.rules)),
    examples: Object.fromEntries(s.examples),
    newly_denied_users: [...s.newlyDenied].slice(0, MAX_LISTED_USERS),
    newly_denied_user_count: s.newlyDenied.size,
    newly_denied_users_more: s.newlyDeniedOverflow,
  }
}

/** The summary for people. */
export function replayText (s: ReplaySummary, skipped: SkipCounts): string {
  const skippedTotal = [...skipped.values()].reduce((a, b) => a + b, 0)
  const lines = [`replayed ${s.records} decision record(s); ${s.changed} would change`]
  if (skippedTotal > 0) lines.push(`skipped ${skippedTotal} line(s): ${sorted(skipped).map(([why, n]) => `${n} ${why}`).join(', ')}`)
  if (s.changed > 0) {
    lines.push('changes:', ...sorted(s.changes).map(([change, n]) => `  ${change}: ${n}`))
    lines.push('by route (as recorded):', ...[...s.routes].filter(([, r]) => r.changed > 0).sort((a, b) => b[1].changed - a[1].changed).map(([name, r]) => `  ${name}: ${r.changed} of ${r.records}`))
    lines.push('rules that now decide:', ...sorted(s.rules).map(([rule, n]) => `  ${rule}: ${n}`))
    lines.push('examples:')
    for (const [change, examples] of s.examples) lines.push(`  ${change}:`, ...examples.map(e => `    ${e}`))
    if (s.newlyDenied.size > 0) {
      const count = s.newlyDeniedOverflow ? `more than ${MAX_TRACKED_USERS}` : String(s.newlyDenied.size)
      const listed = [...s.newlyDenied].slice(0, MAX_LISTED_USERS)
      lines.push(`users newly denied (${count}): ${listed.join(', ')}${listed.length < s.newlyDenied.size ? ', ...' : ''}`)
    }
  }
  return `${lines.join('\n')}\n`
}
