import type { Bindings, ChildLoggerOptions, Level, Logger } from 'pino'

type Write = (...args: unknown[]) => void

/**
 * A request's logger that becomes a pino child (carrying the request id) only
 * when it first writes a line at an enabled level. Most requests log nothing,
 * and a child per request (its bindings serialized and redacted) was a
 * measurable share of a proxied request's CPU time. Lines come out exactly as
 * from a child made up front.
 */
export class RequestLogger {
  readonly #parent: Logger
  readonly #bindings: Bindings
  readonly #options: ChildLoggerOptions
  #child: Logger | undefined

  constructor (parent: Logger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent
    this.#bindings = bindings
    this.#options = options
  }

  get level (): string {
    return (this.#child ?? this.#parent).level
  }

  set level (level: string) {
    this.#logger().level = level
  }

  fatal (...args: unknown[]): void { this.#write('fatal', args) }
  error (...args: unknown[]): void { this.#write('error', args) }
  warn (...args: unknown[]): void { this.#write('warn', args) }
  info (...args: unknown[]): void { this.#write('info', args) }
  debug (...args: unknown[]): void { this.#write('debug', args) }
  trace (...args: unknown[]): void { this.#write('trace', args) }
  silent (): void {}

  isLevelEnabled (level: string): boolean {
    return (this.#child ?? this.#parent).isLevelEnabled(level)
  }

  child (bindings: Bindings, options?: ChildLoggerOptions): Logger {
    return this.#logger().child(bindings, options)
  }

  #logger (): Logger {
    this.#child ??= this.#parent.child(this.#bindings, this.#options)
    return this.#child
  }

  #write (level: Level, args: unknown[]): void {
    if (this.#child === undefined && !this.#parent.isLevelEnabled(level)) return
    const logger = this.#logger()
    ;(logger[level] as Write).apply(logger, args)
  }
}
