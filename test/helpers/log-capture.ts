import { Writable } from 'node:stream'

/** A pino destination that keeps every line (or the latest ones), for assertions on logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  /** With a limit, only the latest lines are kept (for long runs); waiters still see every line. */
  readonly #keep: number
  #waiters: Array<{ match: (r: Record<string, unknown>) => boolean, resolve: (r: Record<string, unknown>) => void }> = []

  constructor (keep = Number.POSITIVE_INFINITY) {
    super()
    this.#keep = keep
  }

  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue
      this.lines.push(line)
      if (this.lines.length > this.#keep) this.lines.splice(0, this.lines.length - this.#keep)
      const record = JSON.parse(line) as Record<string, unknown>
      this.#waiters = this.#waiters.filter(w => {
        if (!w.match(record)) return true
        w.resolve(record)
        return false
      })
    }
    callback()
  }

  /** Resolves with the first log record (already written, or to come) that matches. */
  async waitFor (match: (r: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
    const seen = this.records().find(match)
    if (seen !== undefined) return seen
    return await new Promise(resolve => this.#waiters.push({ match, resolve }))
  }

  get text (): string {
    return this.lines.join('\n')
  }

  records (): Array<Record<string, unknown>> {
    return this.lines.map(l => JSON.parse(l) as Record<string, unknown>)
  }
}

/** The access log line of a request (src/log/access-log.ts): the one with the response and its time. */
export function isAccessLine (r: Record<string, unknown>): boolean {
  return typeof r.responseTime === 'number' && typeof r.res === 'object' && r.res !== null
}
