import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../config/load.js'
import { DEMO_USERS, startDevIdp } from '../devidp/provider.js'
import { startGateway } from '../server/start.js'
import { startLegacyApp } from './legacy-app.js'

/**
 * `npm run demo`: a development OpenID Provider, a sample legacy app and the
 * gateway in front of it, all on this machine. Sessions are in memory unless
 * REDIS_URL (or GATEHOUSE_REDIS_URL) is set. Ctrl-C stops everything.
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
  const redisUrl = process.env.GATEHOUSE_REDIS_URL ?? process.env.REDIS_URL

  const loaded = loadConfig({
    allowGeneratedKey: true,
    env: {
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
      GATEHOUSE_PUBLIC_URL: publicUrl,
      GATEHOUSE_OIDC_ISSUER: idp.issuer,
      GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
      GATEHOUSE_OIDC_CLIENT_ID: 'gatehouse-demo',
      GATEHOUSE_OIDC_CLIENT_SECRET: clientSecret,
      GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('base64url'),
      GATEHOUSE_UPSTREAM_URL: app.url,
      GATEHOUSE_POLICIES: process.env.GATEHOUSE_POLICIES ?? fileURLToPath(new URL('../../policies/demo', import.meta.url)),
      GATEHOUSE_LOG_LEVEL: process.env.GATEHOUSE_LOG_LEVEL ?? 'info',
      GATEHOUSE_ADMIN_LISTEN: process.env.GATEHOUSE_ADMIN_LISTEN ?? '127.0.0.1:9464',
      ...(process.env.GATEHOUSE_LOG_AUDIT === undefined ? {} : { GATEHOUSE_LOG_AUDIT: process.env.GATEHOUSE_LOG_AUDIT }),
      ...(redisUrl === undefined || redisUrl === '' ? {} : { GATEHOUSE_REDIS_URL: redisUrl }),
    },
  })
  const { gateway } = await startGateway({ loaded, allowGeneratedKey: true })
  await gateway.oidc.whenReady()

  const users = DEMO_USERS.map(u => `    ${u.id.padEnd(6)} password ${u.password.padEnd(11)} groups ${u.groups.join(', ')}${u.roles.length > 0 ? `; roles ${u.roles.join(', ')}` : ''}`).join('\n')
  process.stdout.write(`
  Gatehouse demo is running.

  Open ${publicUrl}/ in a browser and sign in as one of:
${users}

  Development OpenID Provider: ${idp.issuer}
  Sample legacy app (behind the gateway): ${app.url}
  Sessions: ${redisUrl === undefined || redisUrl === '' ? 'in memory (set REDIS_URL to use Redis)' : redisUrl.replace(/\/\/[^@/]*@/, '//***@')}
  Policy: ${loaded.config.policies ?? ''} (edit it: changes apply at once)
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
