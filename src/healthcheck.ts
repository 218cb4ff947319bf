import { CONFIG_FILE_ENV } from './config/env.js'
import { loadConfig } from './config/load.js'

/**
 * Container health check: exits 0 when /.gatehouse/healthz answers 200 on the
 * gateway's listener, read from the same config file and environment as
 * `serve` (so a `listen` in the YAML file counts). No shell or curl in the image.
 */
const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '::0'])

try {
  const { listen } = loadConfig({ file: process.env[CONFIG_FILE_ENV], env: process.env }).config
  const host = WILDCARD_HOSTS.has(listen.host) ? '127.0.0.1' : listen.host.includes(':') ? `[${listen.host}]` : listen.host
  const res = await fetch(`http://${host}:${listen.port}/.gatehouse/healthz`, { signal: AbortSignal.timeout(2000) })
  process.exitCode = res.ok ? 0 : 1
} catch {
  process.exitCode = 1
}
