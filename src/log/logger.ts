import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino'
import { REDACT_PATHS, redactUrl } from './redaction.js'

export type { Logger } from 'pino'

export interface LoggerSettings {
  level: string
  /** Where lines go instead of stdout (tests capture them; the demo writes readable lines). */
  destination?: DestinationStream
}

interface RawRequestLike {
  method?: string
  url?: string
  id?: string
  ip?: string
  socket?: { remoteAddress?: string | undefined }
  headers?: Record<string, unknown>
  hostname?: string
}

/** pino options shared by the root logger and Fastify's request logger. */
export function loggerOptions (level: string): LoggerOptions {
  return {
    level,
    base: { service: 'gatehouse' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    serializers: {
      req (req: RawRequestLike) {
        return {
          method: req.method,
          url: req.url === undefined ? undefined : redactUrl(req.url),
          host: req.hostname,
          remoteAddress: req.ip ?? req.socket?.remoteAddress,
        }
      },
      err: pino.stdSerializers.err,
    },
  }
}

/** The one root logger. Modules take `log.child({ module })` from it. */
export function createLogger (settings: LoggerSettings): Logger {
  const opts = loggerOptions(settings.level)
  return settings.destination === undefined ? pino(opts) : pino(opts, settings.destination)
}
