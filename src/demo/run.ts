import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { loadConfig, type LoadedConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { createLogger } from '../log/logger.js'
import { ReadableLog } from '../log/readable-log.js'
import { DEMO_USERS, startDevIdp } from '../devidp/provider.js'
import { startGateway } from '../server/start.js'
import { demoEnv } from './demo-env.js'
import { startLegacyApp } from './legacy-app.js'

/**
 * `npm run demo`: a development OpenID Provider, a sample legacy app and the
 * gateway in front of it, all on this machine. Sessions are in memory unless
 * REDIS_URL (or GATEHOUSE_REDIS_URL) is set. GATEHOUSE_* variables are
 * honoured, apart from those the demo must set itself, which it names as
 * ignored. Log lines are readable text, one per request. Ctrl-C stops
 * everything.
 */
const DEFAULT_PORT = 8080

async function main (): Promise<void> {
  const port = Number(process.env.DEMO_PORT ?? DEFAULT_PORT)
  const publicUrl = `http://localhost:${port}`
  const clientSecret = randomBytes(24).toString('base64url')
  const idp = await startDevIdp({
    users: DEMO_USERS,
    clients: [{
      client_id: 'gatehouse-demo',
      client_secret: clientSecret,
      redirect_uris: [`${publicUrl}/.gatehouse/callback`],
      post_logout_redirect_uris: [`${publicUrl}/.gatehouse/signed-out`],
    }],
  })
  const app = await startLegacyApp({ gatewayUrl: publicUrl })
  const redisUrl = process.env.REDIS_URL
  const settings = demoEnv(process.env, {
    own: {
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: publicUrl,
      GATEHOUSE_OIDC_ISSUER: idp.issuer,
      GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
      GATEHOUSE_OIDC_CLIENT_ID: 'gatehouse-demo',
      GATEHOUSE_OIDC_CLIENT_SECRET: clientSecret,
      GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('base64url'),
      GATEHOUSE_UPSTREAM_URL: app.url,
    },
    defaults: {
      GATEHOUSE_POLICIES: fileURLToPath(new URL('../../policies/demo', import.meta.url)),
      ...(redisUrl === undefined || redisUrl === '' ? {} : { GATEHOUSE_REDIS_URL: redisUrl }),
    },
  })
  for (const { name, why } of settings.ignored) process.stdout.write(`demo: ${name} ignored: ${why}\n`)

  let loaded: LoadedConfig
  try {
    loaded = loadConfig({ allowGeneratedKey: true, env: settings.env })
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    for (const p of err.problems) process.stderr.write(`${p.where}: ${p.severity}: ${p.message}\n`)
    process.stderr.write('demo: not starting, the configuration is not valid\n')
    process.exit(1)
  }
  const { config } = loaded
  const log = createLogger({ level: config.log.level, destination: new ReadableLog(process.stdout) })
  const { gateway } = await startGateway({ loaded, log, allowGeneratedKey: true })
  await gateway.oidc.whenReady()

  const users = DEMO_USERS.map(u => `    ${u.id.padEnd(6)} password ${u.password.padEnd(11)} groups ${u.groups.join(', ')}${u.roles.length > 0 ? `; roles ${u.roles.join(', ')}` : ''}`).join('\n')
  process.stdout.write(`
  Gatehouse demo is running.

  Open ${publicUrl}/ in a browser and sign in as one of:
${users}

  Development OpenID Provider: ${idp.issuer}
  Sample legacy app (behind the gateway): ${app.url}
  Sessions: ${config.redis.url === undefined ? 'in memory (set REDIS_URL to use Redis)' : `${config.redis.url.replace(/\/\/[^@/]*@/, '//***@')}, keys under ${config.redis.keyPrefix}`}
  Policy: ${config.policies ?? ''} (edit it: changes apply at once)
  Settings from the environment: ${settings.taken.length === 0 ? 'none' : settings.taken.join(', ')}
  Try ${publicUrl}/admin/ as alice and as bob; ${publicUrl}/public/ needs no sign-in.
  Sign out: ${publicUrl}/.gatehouse/logout    Health: ${publicUrl}/.gatehouse/readyz
  Metrics: ${gateway.adminAddress === undefined ? 'off (GATEHOUSE_ADMIN_LISTEN=off)' : `http://${gateway.adminAddress.host}:${gateway.adminAddress.port}/metrics`}

  Press Ctrl-C to stop.

`)

  let stopping = false
  const stop = (): void => {
    if (stopping) return
    stopping = true
    void Promise.allSettled([gateway.close(), app.close(), idp.close()]).then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

main().catch((err: unknown) => {
  process.stderr.write(`demo: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})
