import { startLegacyApp } from './legacy-app.js'

/**
 * The sample legacy app on its own (used by docker-compose):
 * LEGACY_APP_HOST (default 127.0.0.1), LEGACY_APP_PORT (default 3000),
 * GATEWAY_URL (the gateway's public URL, whose JWKS verifies assertions),
 * LEGACY_APP_AUDIENCE (default: the app's own URL).
 */
const app = await startLegacyApp({
  host: process.env.LEGACY_APP_HOST ?? '127.0.0.1',
  port: Number(process.env.LEGACY_APP_PORT ?? 3000),
  gatewayUrl: process.env.GATEWAY_URL ?? 'http://localhost:8080',
  ...(process.env.LEGACY_APP_AUDIENCE === undefined ? {} : { audience: process.env.LEGACY_APP_AUDIENCE }),
})
process.stdout.write(`legacy app listening on ${app.url}\n`)
const stop = (): void => { void app.close().then(() => process.exit(0)) }
process.once('SIGTERM', stop)
process.once('SIGINT', stop)
