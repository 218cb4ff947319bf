/** Where readable lines go (process.stdout, or a test's buffer). */
export interface TextSink {
  write (text: string): unknown
}

type LogRecord = Record<string, unknown>

/** Requests whose access line is still to come, at most; the oldest are written out alone beyond it. */
const MAX_PENDING = 1000
/** Fields every line has, or that the readable line shows in its own place. */
const OMITTED = new Set(['level', 'time', 'service', 'msg', 'pid', 'hostname', 'audit', 'reqId', 'traceId', 'module'])
const LABELS: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
const WARN = 40
const ERROR = 50
/** What each audit event says within its request's line. */
const AUDIT_NOTES: Readonly<Record<string, string>> = {
  'signin.success': 'signed in',
  'signin.failure': 'sign-in failed',
  signout: 'signed out',
  'session.refreshed': 'tokens refreshed',
  'session.expired': 'session expired',
  'session.revoked': 'sessions revoked',
}

interface Pending { notes: string[], user: string | undefined }

/**
 * A pino destination for people at a terminal (the demo): each request is one
 * line, `14:03:07 GET /admin/ → 403 (admin: group_required) alice 2.1ms`,
 * made of its access line (the one with `res` and `responseTime`) and what
 * the request's other lines said (denials, sign-in, upstream failures); lines
 * of no request are one line each, with their level when it is not info. It
 * reads the lines pino has already serialized and redacted, so it shows no
 * more than the JSON would. Production logs stay JSON.
 */
export class ReadableLog {
  readonly #out: TextSink
  readonly #pending = new Map<string, Pending>()

  constructor (out: TextSink) {
    this.#out = out
  }

  write (chunk: string): void {
    for (const line of chunk.split('\n')) {
      if (line === '') continue
      let record: LogRecord
      try {
        record = JSON.parse(line) as LogRecord
      } catch {
        this.#out.write(`${line}\n`)
        continue
      }
      this.#take(record)
    }
  }

  #take (record: LogRecord): void {
    const reqId = typeof record.reqId === 'string' ? record.reqId : undefined
    const res = record.res as { statusCode?: unknown } | undefined
    if (reqId !== undefined && res !== undefined && typeof record.responseTime === 'number') {
      const pending = this.#pending.get(reqId)
      this.#pending.delete(reqId)
      this.#out.write(`${accessLine(record, pending)}\n`)
      return
    }
    if (reqId === undefined || record.event === 'request.unreadable') {
      this.#out.write(`${standaloneLine(record)}\n`)
      return
    }
    const pending = this.#pending.get(reqId) ?? { notes: [], user: undefined }
    const note = requestNote(record)
    if (note !== undefined && !pending.notes.includes(note)) pending.notes.push(note)
    if (typeof record.user === 'string') pending.user = record.user
    this.#pending.set(reqId, pending)
    if (this.#pending.size > MAX_PENDING) {
      // A request that never wrote its access line (a WebSocket, a line after the response).
      const [oldest, left] = this.#pending.entries().next().value as [string, Pending]
      this.#pending.delete(oldest)
      if (left.notes.length > 0) this.#out.write(`${clock(record.time)} request ${oldest}: ${left.notes.join('; ')}\n`)
    }
  }
}

function clock (time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date()
  return Number.isNaN(date.getTime()) ? String(time) : date.toTimeString().slice(0, 8)
}

function text (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : typeof value === 'number' ? String(value) : undefined
}

/** `GH_CODE (detail)` of a line's error, reason and detail, as far as it has them. */
function why (record: LogRecord): string | undefined {
  const err = (typeof record.err === 'object' && record.err !== null ? record.err : {}) as LogRecord
  const what = text(err.code) ?? text(record.reason) ?? text(err.message)
  const detail = text(err.detail) ?? text(record.detail)
  if (what === undefined) return detail
  return detail === undefined || detail === what ? what : `${what} (${detail})`
}

/** What one of a request's lines adds to its access line; nothing for the proxy's own chatter. */
function requestNote (record: LogRecord): string | undefined {
  const event = text(record.event)
  if (record.audit === true && event !== undefined) {
    if (event === 'access.decision') return undefined
    if (event === 'access.denied') return [text(record.route), why(record)].filter(s => s !== undefined).join(': ')
    const reason = why(record)
    const said = AUDIT_NOTES[event] ?? event
    return reason === undefined ? said : `${said}: ${reason}`
  }
  const level = typeof record.level === 'number' ? record.level : 0
  const reason = why(record)
  if (level < WARN && event === undefined && reason === undefined) return undefined
  const said = text(record.msg) ?? event ?? 'note'
  return reason === undefined ? said : `${said}: ${reason}`
}

function accessLine (record: LogRecord, pending: Pending | undefined): string {
  const req = (typeof record.req === 'object' && record.req !== null ? record.req : {}) as LogRecord
  const status = (record.res as LogRecord).statusCode
  const notes = [...(pending?.notes ?? [])]
  const failed = why(record)
  if (typeof record.level === 'number' && record.level >= ERROR && failed !== undefined) notes.push(`failed: ${failed}`)
  const parts = [clock(record.time), text(req.method) ?? '?', text(req.url) ?? '?', '→', String(status)]
  if (notes.length > 0) parts.push(`(${notes.join('; ')})`)
  if (pending?.user !== undefined) parts.push(pending.user)
  parts.push(`${(record.responseTime as number).toFixed(1)}ms`)
  return parts.join(' ')
}

/** A value as it reads in `key=value`: plain when it has no space, quoted when it has. */
function shown (value: unknown): string {
  const s = Array.isArray(value) ? value.map(v => String(v)).join(',') : String(value)
  return /\s/.test(s) || s === '' ? `"${s.replace(/"/g, '\\"')}"` : s
}

/**
 * `key=value` pairs, nested objects flattened to `err.code=…`; left out:
 * `null` (an audit field that does not apply), an error's stack (written
 * below an error line) and the type pino's serializer gives a plain object.
 */
function fields (record: LogRecord, prefix = ''): string[] {
  const out: string[] = []
  for (const [key, value] of Object.entries(record)) {
    if (prefix === '' && OMITTED.has(key)) continue
    if (value === null || value === undefined || (prefix === 'err.' && (key === 'stack' || (key === 'type' && value === 'Object')))) continue
    if (typeof value === 'object' && !Array.isArray(value)) out.push(...fields(value as LogRecord, `${prefix}${key}.`))
    else out.push(`${prefix}${key}=${shown(value)}`)
  }
  return out
}

function standaloneLine (record: LogRecord): string {
  const level = typeof record.level === 'number' ? record.level : 30
  const label = LABELS[level]
  const rest = { ...record }
  // An audit line's message is its event.
  if (record.audit === true && record.event === record.msg) delete rest.event
  const parts = [clock(record.time), ...(label === undefined ? [] : [label]), text(record.msg) ?? '', ...fields(rest)]
  const line = parts.filter(s => s !== '').join(' ')
  const stack = (record.err as LogRecord | undefined)?.stack
  if (level < ERROR || typeof stack !== 'string') return line
  return `${line}\n${stack.split('\n').slice(1).map(s => `    ${s.trim()}`).join('\n')}`
}
