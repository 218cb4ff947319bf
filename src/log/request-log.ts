/**
 * What the steps of a request need of its logger: Fastify's request logger
 * (a pino child) is one, and so is any pino logger, so the steps can run
 * without Fastify.
 */
export interface RequestLog {
  debug (obj: object, msg: string): void
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
  child (bindings: Record<string, unknown>): RequestLog
}
