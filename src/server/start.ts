import type { LoadedConfig } from '../config/load.js'
import { createAuditLog } from '../log/audit.js'
import { createLogger, type Logger } from '../log/logger.js'
import { MemorySessionStore } from '../session/memory-store.js'
import { RedisSessionStore } from '../session/redis-store.js'
import type { SessionStore } from '../session/store.js'
import { generateSigningKey, loadSigningKey, type SigningKey } from '../sign/keys.js'
import { buildGateway, type Gateway } from './gateway.js'

export interface StartOptions {
  loaded: LoadedConfig
  log?: Logger
  /** Demo only: a generated key when no key file is configured. */
  allowGeneratedKey?: boolean
}

export interface Started {
  gateway: Gateway
  log: Logger
  address: { host: string, port: number }
}

/** Builds the runtime parts from a validated config and starts listening. */
export async function startGateway (opts: StartOptions): Promise<Started> {
  const { config, warnings } = opts.loaded
  const log = opts.log ?? createLogger({ level: config.log.level })
  for (const w of warnings) log.warn({ where: w.where }, w.message)

  let signingKey: SigningKey
  if (config.signing.keyFile !== undefined) {
    signingKey = await loadSigningKey(config.signing.keyFile, config.signing.algorithm)
  } else if (opts.allowGeneratedKey === true) {
    signingKey = await generateSigningKey(config.signing.algorithm)
    log.warn({ kid: signingKey.kid }, 'DEMO: generated a throwaway signing key; upstreams must fetch /.gatehouse/jwks.json again after every restart. Configure signing.key_file in production.')
  } else {
    throw new Error('signing.key_file is required')
  }

  const store: SessionStore = config.redis.url === undefined
    ? new MemorySessionStore()
    : new RedisSessionStore({ url: config.redis.url, keyPrefix: config.redis.keyPrefix, commandTimeoutMs: config.redis.commandTimeoutMs, log })

  let gateway: Gateway
  try {
    gateway = await buildGateway({ config, log, store, signingKey })
  } catch (err) {
    // An invalid policy stops the start; nothing may keep the process alive.
    await store.close()
    throw err
  }
  gateway.policies.watch()
  const onHangup = (): void => { gateway.policies.reload('SIGHUP') }
  process.on('SIGHUP', onHangup)
  gateway.app.addHook('onClose', async () => { process.off('SIGHUP', onHangup) })
  const address = await gateway.listen()
  createAuditLog(log)('config.loaded', { listen: `${address.host}:${address.port}`, public_url: config.publicUrl, sessions: store.kind, kid: signingKey.kid })
  return { gateway, log, address }
}
