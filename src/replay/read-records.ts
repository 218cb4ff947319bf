import { closeSync, createReadStream, openSync, readSync } from 'node:fs'
import { createInterface } from 'node:readline'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import type { RecordedCertificate, RecordedDecision, RecordedIdentity } from '../pipeline/decision-record.js'

/** An access.decision audit line, as replay reads it. */
export interface ReplayRecord {
  readonly time: string | undefined
  readonly method: string
  readonly host: string
  readonly path: string
  readonly ip: string | null
  readonly route: string | null
  readonly rule: string | null
  readonly decision: RecordedDecision
  readonly reason: string | null
  readonly credential: 'session' | 'bearer' | null
  readonly websocket: boolean
  readonly identity: RecordedIdentity | null
  readonly certificate: RecordedCertificate | null
}

/** Why lines were not replayed, and how many of each. */
export type SkipCounts = Map<string, number>

const GZIP_MAGIC = [0x1f, 0x8b]
const DECISIONS: ReadonlySet<string> = new Set(['allow', 'deny', 'signin', 'step_up'])

function isGzip (file: string): boolean {
  const fd = openSync(file, 'r')
  try {
    const head = Buffer.alloc(2)
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1]
  } finally {
    closeSync(fd)
  }
}

function skip (skipped: SkipCounts, reason: string): void {
  skipped.set(reason, (skipped.get(reason) ?? 0) + 1)
}

/**
 * The decision records of audit log files (JSON lines, gzip or not), one at
 * a time: a file of any size is read in constant memory. Lines that are not
 * decision records, or are older than `since` (ms since the epoch), are
 * counted by reason in `skipped`.
 */
export async function * readDecisionRecords (files: readonly string[], since: number | undefined, skipped: SkipCounts): AsyncGenerator<ReplayRecord> {
  for (const file of files) {
    let input: Readable = createReadStream(file)
    if (isGzip(file)) input = input.pipe(createGunzip())
    const lines = createInterface({ input, crlfDelay: Infinity })
    for await (const line of lines) {
      if (line.trim() === '') continue
      let value: unknown
      try {
        value = JSON.parse(line)
      } catch {
        skip(skipped, 'not JSON')
        continue
      }
      const record = asRecord(value)
      if (typeof record === 'string') {
        skip(skipped, record)
        continue
      }
      if (since !== undefined) {
        const time = record.time === undefined ? Number.NaN : Date.parse(record.time)
        if (Number.isNaN(time)) {
          skip(skipped, 'no valid time (needed by --since)')
          continue
        }
        if (time < since) {
          skip(skipped, 'older than --since')
          continue
        }
      }
      yield record
    }
  }
}

/** The record in a parsed line, or why it is not one. */
function asRecord (value: unknown): ReplayRecord | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object'
  const v = value as Record<string, unknown>
  if (v.event !== 'access.decision') return 'not a decision record (other log line)'
  if (typeof v.method !== 'string' || typeof v.path !== 'string' || typeof v.host !== 'string' || typeof v.decision !== 'string' || !DECISIONS.has(v.decision)) return 'incomplete decision record'
  const identity = v.identity
  if (identity !== null && identity !== undefined && (typeof identity !== 'object' || typeof (identity as { user?: unknown }).user !== 'string')) return 'incomplete decision record'
  return {
    time: typeof v.time === 'string' ? v.time : undefined,
    method: v.method,
    host: v.host,
    path: v.path,
    ip: typeof v.ip === 'string' ? v.ip : null,
    route: typeof v.route === 'string' ? v.route : null,
    rule: typeof v.rule === 'string' ? v.rule : null,
    decision: v.decision as RecordedDecision,
    reason: typeof v.reason === 'string' ? v.reason : null,
    credential: v.credential === 'bearer' ? 'bearer' : v.credential === 'session' ? 'session' : null,
    websocket: v.websocket === true,
    identity: (identity ?? null) as RecordedIdentity | null,
    certificate: typeof v.certificate === 'object' && v.certificate !== null && typeof (v.certificate as { subject?: unknown }).subject === 'string' ? v.certificate as RecordedCertificate : null,
  }
}
