import { Redis } from 'ioredis'
import { GatehouseError } from '../errors.js'
import type { Logger } from '../log/logger.js'
import type { SessionStore } from './store.js'

export interface RedisStoreOptions {
  url: string
  keyPrefix: string
  commandTimeoutMs: number
  log: Logger
}

const MAX_RECONNECT_DELAY_MS = 2000

/**
 * Sessions in Redis over ioredis. Commands never queue while Redis is away
 * (enableOfflineQueue: false) and time out after commandTimeoutMs, so a
 * request fails fast with 503 instead of hanging; ioredis reconnects by
 * itself and service resumes when Redis does.
 */
export class RedisSessionStore implements SessionStore {
  readonly kind = 'redis'
  readonly #redis: Redis
  readonly #prefix: string

  constructor (opts: RedisStoreOptions) {
    this.#prefix = opts.keyPrefix
    const log = opts.log.child({ module: 'redis' })
    this.#redis = new Redis(opts.url, {
      enableOfflineQueue: false,
      commandTimeout: opts.commandTimeoutMs,
      connectTimeout: Math.max(1000, opts.commandTimeoutMs),
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * 2 ** times, MAX_RECONNECT_DELAY_MS),
      lazyConnect: false,
    })
    let down = false
    this.#redis.on('error', (err: Error) => {
      if (!down) log.error({ err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, 'redis unavailable')
      down = true
    })
    this.#redis.on('ready', () => {
      if (down) log.info('redis available again')
      down = false
    })
  }

  /** The key under which a session is kept (for tests and the sessions CLI). */
  sessionKey (id: string): string {
    return `${this.#prefix}session:${id}`
  }

  async get (id: string): Promise<Record<string, unknown> | undefined> {
    const text = await this.#call('GET', () => this.#redis.get(this.sessionKey(id)))
    return text === null ? undefined : JSON.parse(text) as Record<string, unknown>
  }

  async set (id: string, value: object, ttlMs: number): Promise<void> {
    await this.#call('SET', () => this.#redis.set(this.sessionKey(id), JSON.stringify(value), 'PX', Math.max(1, Math.ceil(ttlMs))))
  }

  async destroy (id: string): Promise<void> {
    await this.#call('DEL', () => this.#redis.del(this.sessionKey(id)))
  }

  async claimOnce (key: string, ttlMs: number): Promise<boolean> {
    const result = await this.#call('SET NX', () => this.#redis.set(`${this.#prefix}once:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))
    return result === 'OK'
  }

  async ping (): Promise<void> {
    await this.#call('PING', () => this.#redis.ping())
  }

  async close (): Promise<void> {
    this.#redis.disconnect(false)
  }

  async #call<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      throw new GatehouseError('GH_SESSION_STORE_UNAVAILABLE', `redis ${what}: ${(err as Error).message}`, { cause: err })
    }
  }
}
