import { randomBytes } from 'node:crypto'
import { Cluster, Redis, type RedisOptions } from 'ioredis'
import { GatehouseError } from '../errors.js'
import type { Logger } from '../log/logger.js'
import type { SessionBackend, SessionIndex } from './backend.js'
import { singleHostUrl } from '../net/redis-url.js'

export interface RedisBackendOptions {
  /** redis://, rediss://, redis+sentinel://host:port,host:port/master, or redis+cluster://host:port,host:port */
  url: string
  keyPrefix: string
  commandTimeoutMs: number
  log: Logger
  /** Called for every failed command (by name) and every connection error (`connection`); for metrics. */
  onError?: ((command: string) => void) | undefined
}

const MAX_RECONNECT_DELAY_MS = 2000
/** How often an idle gateway checks that Redis still answers (a frozen Redis keeps its sockets open). */
const HEARTBEAT_MS = 1000
/** Where Redis sends the invalidations of tracked keys to a RESP2 connection. */
const INVALIDATE_CHANNEL = '__redis__:invalidate'
const UNLOCK_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"

const RENEW_SCRIPT = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"

type Client = Redis | Cluster

/**
 * Sessions in Redis over ioredis: standalone, Sentinel or Cluster, chosen by
 * the URL. Commands never queue while Redis is away (enableOfflineQueue:
 * false) and time out after commandTimeoutMs, so a request fails fast with
 * 503 instead of hanging; ioredis reconnects by itself. Keys of one session
 * share a Cluster slot through a hash tag. Changes are announced on a pub/sub
 * channel so that every gateway drops its cached copy.
 */
export class RedisBackend implements SessionBackend {
  readonly kind = 'redis'
  readonly #client: Client
  readonly #subscriber: Client
  readonly #prefix: string
  readonly #channel: string
  readonly #instance = randomBytes(8).toString('hex')
  readonly #listeners: Array<(ids: readonly string[] | undefined) => void> = []
  readonly #heartbeat: NodeJS.Timeout
  readonly #onError: (command: string) => void
  readonly #log: Logger
  #available = false
  #tracking = false
  /** The subscriber connection's id, where Redis sends the invalidations of tracked keys. */
  #subscriberId: number | undefined

  get sessionCache (): 'exact' | 'bounded' {
    return this.#tracking ? 'exact' : 'bounded'
  }

  get available (): boolean {
    return this.#available
  }

  constructor (opts: RedisBackendOptions) {
    this.#prefix = opts.keyPrefix
    this.#onError = opts.onError ?? (() => {})
    this.#channel = `${opts.keyPrefix}invalidate`
    const log = opts.log.child({ module: 'redis' })
    this.#log = log
    this.#client = connect(opts)
    // RESP2: Redis sends the invalidations of tracked keys to a RESP2 connection as pub/sub messages.
    this.#subscriber = connect(opts, 2)
    watch(this.#client, log, 'redis')
    watch(this.#subscriber, log, 'redis subscriber')
    const down = (): void => { this.#setAvailable(false) }
    this.#client.on('ready', () => { this.#setAvailable(true) })
    this.#client.on('ready', () => { void this.#track() })
    this.#client.on('error', down)
    this.#client.on('error', () => { this.#onError('connection') })
    this.#client.on('close', down)
    this.#client.on('end', down)
    this.#heartbeat = setInterval(() => {
      this.ping().then(() => { this.#setAvailable(true) }, down)
    }, HEARTBEAT_MS)
    this.#heartbeat.unref()
    this.#subscriber.on('ready', () => {
      void this.#subscribe().catch(() => { /* retried on the next ready */ })
    })
    let subscribedOnce = false
    this.#subscriber.on('ready', () => {
      // After a reconnect, messages may have been missed: every cached session is suspect.
      if (subscribedOnce) for (const l of this.#listeners) l(undefined)
      subscribedOnce = true
    })
    this.#subscriber.on('messageBuffer', (channel: Buffer, message: Buffer | Buffer[] | null) => {
      if (channel.toString() !== INVALIDATE_CHANNEL) return
      // null: the database was flushed; else the keys that changed, deleted or expired.
      const ids = message === null ? undefined : (Array.isArray(message) ? message : [message]).flatMap(key => this.#sessionIdOf(key.toString()))
      if (ids === undefined || ids.length > 0) for (const l of this.#listeners) l(ids)
    })
    this.#subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.#channel) return
      let parsed: { o?: unknown, ids?: unknown }
      try {
        parsed = JSON.parse(message) as typeof parsed
      } catch {
        return
      }
      if (parsed.o === this.#instance || !Array.isArray(parsed.ids)) return
      const ids = parsed.ids.filter((x): x is string => typeof x === 'string')
      for (const l of this.#listeners) l(ids)
    })
  }

  /** Subscribes to the announcements and, outside a Cluster, to the invalidations of tracked keys (after learning the connection's id). */
  async #subscribe (): Promise<void> {
    if (this.#subscriber instanceof Cluster) {
      await this.#subscriber.subscribe(this.#channel)
      return
    }
    this.#subscriberId = Number(await this.#subscriber.client('ID'))
    await this.#subscriber.subscribe(this.#channel, INVALIDATE_CHANNEL)
    await this.#track()
  }

  /**
   * Server-assisted client-side caching: Redis tells the subscriber of every
   * change to a session key (any client's write, DEL, UNLINK, expiry,
   * FLUSHDB), so cached sessions are exact. Turned on for the command
   * connection at every (re)connect of either connection; where Redis refuses
   * (before 6, a proxy, a Cluster), the cache stays bounded by cache_ttl.
   */
  async #track (): Promise<void> {
    const id = this.#subscriberId
    if (this.#client instanceof Cluster) {
      this.#bounded('a Redis Cluster spreads the keys over nodes; tracking is not set up there')
      return
    }
    if (id === undefined || this.#client.status !== 'ready') return
    try {
      await this.#client.call('CLIENT', 'TRACKING', 'on', 'REDIRECT', String(id), 'BCAST', 'PREFIX', `${this.#prefix}session:`, 'NOLOOP')
      if (!this.#tracking) this.#log.info({ event: 'session_cache.exact' }, 'session cache exact: Redis reports every change to a session key')
      this.#tracking = true
    } catch (err) {
      this.#bounded((err as Error).message)
    }
  }

  #bounded (reason: string): void {
    if (this.#tracking || !this.#boundedSaid) this.#log.warn({ event: 'session_cache.bounded', reason }, 'session cache bounded by session.cache_ttl: Redis cannot report changes to session keys (CLIENT TRACKING refused); a session deleted in Redis by other means than the gateway may be served from memory until its cached copy expires')
    this.#boundedSaid = true
    this.#tracking = false
  }

  #boundedSaid = false

  /** The session id of a session key of this prefix, or none. */
  #sessionIdOf (key: string): string[] {
    const start = `${this.#prefix}session:{`
    return key.startsWith(start) && key.endsWith('}') ? [key.slice(start.length, -1)] : []
  }

  #setAvailable (available: boolean): void {
    if (this.#available && !available) for (const l of this.#listeners) l(undefined)
    this.#available = available
  }

  /** The key under which a session is kept (for tests and tools). */
  sessionKey (id: string): string {
    return `${this.#prefix}session:{${id}}`
  }

  #indexKey (kind: 'user' | 'idpSession', value: string): string {
    return `${this.#prefix}${kind === 'user' ? 'user' : 'idp'}:{${value}}`
  }

  async get (id: string): Promise<string | undefined> {
    const value = await this.#call('GET', () => this.#client.get(this.sessionKey(id)))
    return value ?? undefined
  }

  async set (id: string, value: string, ttlMs: number, index: SessionIndex, opts: { onlyIfExists?: boolean } = {}): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(ttlMs))
    return await this.#call('SET', async () => {
      const writes: Array<Promise<unknown>> = []
      if (opts.onlyIfExists === true) {
        // SET ... XX: atomic with a delete that comes first; the index is written only after it.
        if (await this.#client.set(this.sessionKey(id), value, 'PX', ttl, 'XX') === null) return false
      } else {
        writes.push(this.#client.set(this.sessionKey(id), value, 'PX', ttl))
      }
      for (const [kind, v] of [['user', index.user], ['idpSession', index.idpSession]] as const) {
        if (v === undefined) continue
        const key = this.#indexKey(kind, v)
        // The index lives at least as long as the longest session in it.
        writes.push(this.#client.sadd(key, id).then(() => this.#client.pexpire(key, ttl, 'GT')).then(async (set) => set === 0 ? await this.#client.pexpire(key, ttl, 'NX') : set))
      }
      await Promise.all(writes)
      return true
    })
  }

  async getValue (key: string): Promise<string | undefined> {
    const value = await this.#call('GET', () => this.#client.get(`${this.#prefix}value:${key}`))
    return value ?? undefined
  }

  async setValue (key: string, value: string, ttlMs: number): Promise<void> {
    await this.#call('SET', () => this.#client.set(`${this.#prefix}value:${key}`, value, 'PX', Math.max(1, Math.ceil(ttlMs))))
  }

  async delete (id: string, index?: SessionIndex): Promise<void> {
    await this.#call('DEL', async () => {
      const writes: Array<Promise<unknown>> = [this.#client.del(this.sessionKey(id))]
      if (index?.user !== undefined) writes.push(this.#client.srem(this.#indexKey('user', index.user), id))
      if (index?.idpSession !== undefined) writes.push(this.#client.srem(this.#indexKey('idpSession', index.idpSession), id))
      await Promise.all(writes)
    })
  }

  async idsBy (kind: 'user' | 'idpSession', value: string): Promise<string[]> {
    const key = this.#indexKey(kind, value)
    return await this.#call('SMEMBERS', async () => {
      const ids = await this.#client.smembers(key)
      const alive = await Promise.all(ids.map(async id => await this.#client.exists(this.sessionKey(id)) === 1))
      const dead = ids.filter((_, i) => alive[i] !== true)
      if (dead.length > 0) await this.#client.srem(key, ...dead)
      return ids.filter((_, i) => alive[i] === true)
    })
  }

  async allIds (): Promise<string[]> {
    const match = `${this.#prefix}session:{*}`
    return await this.#call('SCAN', async () => {
      const nodes: Redis[] = this.#client instanceof Cluster ? this.#client.nodes('master') : [this.#client]
      // A Cluster not connected knows no node: that is no answer, not "no sessions".
      if (nodes.length === 0) throw new Error('no cluster node known')
      const ids: string[] = []
      for (const node of nodes) {
        let cursor = '0'
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', 500)
          cursor = next
          for (const key of keys) {
            const m = /\{(.*)\}$/.exec(key)
            if (m?.[1] !== undefined) ids.push(m[1])
          }
        } while (cursor !== '0')
      }
      return ids
    })
  }

  async claimOnce (key: string, ttlMs: number): Promise<boolean> {
    const result = await this.#call('SET NX', () => this.#client.set(`${this.#prefix}once:${key}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))
    return result === 'OK'
  }

  async lock (key: string, ttlMs: number): Promise<string | undefined> {
    const token = randomBytes(12).toString('base64url')
    const result = await this.#call('SET NX', () => this.#client.set(`${this.#prefix}lock:${key}`, token, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX'))
    return result === 'OK' ? token : undefined
  }

  async unlock (key: string, token: string): Promise<void> {
    await this.#call('EVAL', () => this.#client.eval(UNLOCK_SCRIPT, 1, `${this.#prefix}lock:${key}`, token))
  }

  async renew (key: string, token: string, ttlMs: number): Promise<boolean> {
    const result = await this.#call('EVAL', () => this.#client.eval(RENEW_SCRIPT, 1, `${this.#prefix}lock:${key}`, token, Math.max(1, Math.ceil(ttlMs))))
    return result === 1
  }

  async publish (ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#call('PUBLISH', () => this.#client.publish(this.#channel, JSON.stringify({ o: this.#instance, ids })))
  }

  subscribe (listener: (ids: readonly string[] | undefined) => void): void {
    this.#listeners.push(listener)
  }

  async ping (): Promise<void> {
    try {
      await this.#call('PING', async () => {
        if (this.#client.status !== 'ready') throw new Error(`connection ${this.#client.status}`)
        if (this.#client instanceof Cluster) await Promise.all(this.#client.nodes('master').map(async n => await n.ping()))
        else await this.#client.ping()
      })
    } catch (err) {
      this.#setAvailable(false)
      throw err
    }
  }

  async connected (timeoutMs: number): Promise<void> {
    if (this.#client.status === 'ready') return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { this.#client.off('ready', onReady); reject(new GatehouseError('GH_SESSION_STORE_UNAVAILABLE', `redis: not connected within ${timeoutMs} ms`)) }, timeoutMs)
      const onReady = (): void => { clearTimeout(timer); resolve() }
      this.#client.once('ready', onReady)
    })
  }

  async close (): Promise<void> {
    clearInterval(this.#heartbeat)
    this.#client.disconnect()
    this.#subscriber.disconnect()
  }

  async #call<T> (what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn()
    } catch (err) {
      this.#onError(what)
      throw new GatehouseError('GH_SESSION_STORE_UNAVAILABLE', `redis ${what}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** Builds the ioredis client the URL asks for. */
function connect (opts: RedisBackendOptions, protocol?: 2): Client {
  const common: RedisOptions = {
    ...(protocol === undefined ? {} : { protocol }),
    enableOfflineQueue: false,
    commandTimeout: opts.commandTimeoutMs,
    connectTimeout: Math.max(1000, opts.commandTimeoutMs),
    maxRetriesPerRequest: 0,
    retryStrategy: (times: number) => Math.min(50 * 2 ** times, MAX_RECONNECT_DELAY_MS),
  }
  const url = new URL(singleHostUrl(opts.url))
  const auth = {
    ...(url.username === '' ? {} : { username: decodeURIComponent(url.username) }),
    ...(url.password === '' ? {} : { password: decodeURIComponent(url.password) }),
  }
  const hosts = (): Array<{ host: string, port: number }> => url.host === '' ? [] : parseHosts(opts.url)
  if (url.protocol === 'redis+sentinel:' || url.protocol === 'rediss+sentinel:') {
    const [name = 'mymaster', db] = url.pathname.split('/').filter(s => s !== '')
    return new Redis({
      ...common,
      ...auth,
      sentinels: hosts(),
      name,
      ...(db === undefined ? {} : { db: Number(db) }),
      ...(url.protocol === 'rediss+sentinel:' ? { tls: {}, enableTLSForSentinelMode: true } : {}),
    })
  }
  if (url.protocol === 'redis+cluster:' || url.protocol === 'rediss+cluster:') {
    return new Cluster(hosts(), {
      enableOfflineQueue: false,
      clusterRetryStrategy: (times: number) => Math.min(50 * 2 ** times, MAX_RECONNECT_DELAY_MS),
      redisOptions: { ...common, ...auth, ...(url.protocol === 'rediss+cluster:' ? { tls: {} } : {}) },
    })
  }
  return new Redis(opts.url, common)
}

/** host:port,host:port from the authority of a sentinel or cluster URL. */
export function parseHosts (text: string): Array<{ host: string, port: number }> {
  const authority = /^[a-z+]+:\/\/(?:[^@/]*@)?([^/]*)/i.exec(text)?.[1] ?? ''
  return authority.split(',').filter(s => s !== '').map(hp => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hp)
    return { host: (m?.[1] ?? hp).replace(/^\[|\]$/g, ''), port: Number(m?.[2] ?? 6379) }
  })
}

function watch (client: Client, log: Logger, name: string): void {
  let down = false
  client.on('error', (err: Error) => {
    if (!down) log.error({ event: 'store.unavailable', connection: name, err: { message: err.message, code: (err as NodeJS.ErrnoException).code } }, `${name} unavailable`)
    down = true
  })
  client.on('ready', () => {
    if (down) log.info({ event: 'store.available', connection: name }, `${name} available again`)
    down = false
  })
}
