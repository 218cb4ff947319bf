import { Writable } from 'node:stream'

/** A pino destination that keeps every line, for assertions on logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = []

  override _write (chunk: Buffer, _encoding: string, callback: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') this.lines.push(line)
    callback()
  }

  get text (): string {
    return this.lines.join('\n')
  }

  records (): Array<Record<string, unknown>> {
    return this.lines.map(l => JSON.parse(l) as Record<string, unknown>)
  }
}
