import type { LoadedConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { createAuditLog, type AuditSink } from '../log/audit.js'
import { GatewayMetrics } from '../metrics/gateway-metrics.js'
import { createLogger, type Logger } from '../log/logger.js'
import type { SessionBackend } from '../session/backend.js'
import { MemoryBackend } from '../session/memory-backend.js'
import { RedisBackend } from '../session/redis-backend.js'
import { SessionCipher } from '../session/session-cipher.js'
import { SessionStore } from '../session/session-store.js'
import { generateSigningKey, loadSigningKey, type SigningKey } from '../sign/keys.js'
import { buildGateway, type Gateway } from './gateway.js'

const SESSION_CACHE_MAX = 100_000

/** The session store the config asks for: Redis (standalone, Sentinel, Cluster) or memory, encrypted either way. */
export function createSessionStore (config: LoadedConfig['config'], log: Logger, metrics?: GatewayMetrics): SessionStore {
  const backend: SessionBackend = config.redis.url === undefined
    ? new MemoryBackend()
    : new RedisBackend({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, log, onError: metrics === undefined ? undefined : command => { metrics.redisError(command) } })
  return new SessionStore({
    backend,
    cipher: new SessionCipher(config.session.secret, config.session.previousSecrets),
    cacheTtlMs: config.session.cacheTtlMs,
    cacheMax: SESSION_CACHE_MAX,
    log,
  })
}

export interface StartOptions {
  loaded: LoadedConfig
  log?: Logger
  /** Demo only: a generated key when no key file is configured. */
  allowGeneratedKey?: boolean
  /** Tests replace the clock that session lifetimes and refresh follow. */
  clock?: () => number
}

export interface Started {
  gateway: Gateway
  log: Logger
  address: { host: string, port: number }
}

function hostPort (a: { host: string, port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}

/** The audit log where log.audit says; a file that cannot be opened stops the start with its name. */
function openAuditSink (log: Logger, sink: string | undefined): AuditSink {
  try {
    return createAuditLog(log, sink)
  } catch (err) {
    throw new ConfigError([{ where: 'log.audit', message: `cannot open the audit log ${sink ?? ''}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' }])
  }
}

/** Builds the runtime parts from a validated config and starts listening. */
export async function startGateway (opts: StartOptions): Promise<Started> {
  const { config, warnings } = opts.loaded
  const log = opts.log ?? createLogger({ level: config.log.level })
  for (const w of warnings) log.warn({ where: w.where }, w.message)
  if (opts.loaded.ignoredEnv.length > 0) log.debug({ variables: opts.loaded.ignoredEnv }, 'Kubernetes service-link variables ignored (set enableServiceLinks: false on the pod to leave them out)')

  let signingKey: SigningKey
  if (config.signing.keyFile !== undefined) {
    signingKey = await loadSigningKey(config.signing.keyFile, config.signing.algorithm)
  } else if (opts.allowGeneratedKey === true) {
    signingKey = await generateSigningKey(config.signing.algorithm)
    log.warn({ kid: signingKey.kid }, 'DEMO: generated a throwaway signing key; upstreams must fetch /.gatehouse/jwks.json again after every restart. Configure signing.key_file in production.')
  } else {
    throw new Error('signing.key_file is required')
  }

  const metrics = new GatewayMetrics()
  const auditSink = openAuditSink(log, config.log.audit)
  const store = createSessionStore(config, log, metrics)

  let gateway: Gateway
  try {
    gateway = await buildGateway({ config, log, store, signingKey, metrics, auditSink, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })
  } catch (err) {
    // An invalid policy stops the start; nothing may keep the process alive.
    await store.close()
    auditSink.close()
    throw err
  }
  gateway.policies.watch()
  const onHangup = (): void => { gateway.policies.reload('SIGHUP') }
  process.on('SIGHUP', onHangup)
  gateway.app.addHook('onClose', async () => { process.off('SIGHUP', onHangup) })
  let address: { host: string, port: number }
  try {
    address = await gateway.listen()
  } catch (err) {
    // A port in use (or any failure to listen) must end the start cleanly: nothing may keep the process alive.
    await gateway.close().catch(() => undefined)
    throw err
  }
  const admin = gateway.adminAddress
  const policy = gateway.policies.status
  auditSink.audit('config.loaded', {
    reason: 'start',
    listen: hostPort(address),
    admin_listen: admin === undefined ? 'off' : hostPort(admin),
    public_url: config.publicUrl,
    sessions: store.kind,
    kid: signingKey.kid,
    policy_hash: policy.hash,
    routes: gateway.policies.current.routes.length,
  })
  return { gateway, log, address }
}
