import { existsSync } from 'node:fs'
import { parseDuration } from '../config/duration.js'
import { ConfigError } from '../errors.js'
import type { Policy } from '../policy/load-policy.js'
import type { CommandIo } from '../policy-test/test-command.js'
import { readDecisionRecords, type SkipCounts } from './read-records.js'
import { emptySummary, replayRecord } from './replay-records.js'
import { replayJson, replayText } from './replay-report.js'

export interface ReplayOptions {
  readonly decisions: readonly string[]
  /** A duration (24h, 90m) back from now, or an ISO date. */
  readonly since: string | undefined
  readonly allowChanges: boolean
  readonly json: boolean
}

/** --since as ms since the epoch: a duration back from `now`, or a date. */
export function sinceTime (text: string, now: number): number | undefined {
  try {
    return now - parseDuration(text)
  } catch {
    const date = Date.parse(text)
    return Number.isNaN(date) ? undefined : date
  }
}

/**
 * `gatehouse replay`: decides recorded decisions again under the policy and
 * says what would change. Exit 1 when anything changes (unless
 * --allow-changes), 2 for bad usage or unreadable files.
 */
export async function runReplayCommand (opts: ReplayOptions, load: () => Policy, io: CommandIo, now = Date.now()): Promise<number> {
  if (opts.decisions.length === 0) {
    io.err('gatehouse replay: --decisions FILE is required (the audit log, JSON lines, gzip or not)\n')
    return 2
  }
  const missing = opts.decisions.filter(f => !existsSync(f))
  if (missing.length > 0) {
    io.err(`gatehouse replay: cannot read ${missing.join(', ')}\n`)
    return 2
  }
  const since = opts.since === undefined ? undefined : sinceTime(opts.since, now)
  if (opts.since !== undefined && since === undefined) {
    io.err(`gatehouse replay: --since takes a duration (24h, 90m) or a date, got "${opts.since}"\n`)
    return 2
  }
  let policy: Policy
  try {
    policy = load()
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.err(`${p.where}: ${p.severity}: ${p.message}\n`)
      io.err('gatehouse replay: the policy is not valid\n')
      return 1
    }
    throw err
  }
  const skipped: SkipCounts = new Map()
  const summary = emptySummary()
  for await (const record of readDecisionRecords(opts.decisions, since, skipped)) replayRecord(policy, record, summary)
  io.out(opts.json ? `${JSON.stringify(replayJson(summary, skipped))}\n` : replayText(summary, skipped))
  return summary.changed > 0 && !opts.allowChanges ? 1 : 0
}
