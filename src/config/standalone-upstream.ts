import { ConfigError } from '../errors.js'
import { CONFIG_SCHEMA } from './schema.js'
import { parseDuration } from './duration.js'

const UPSTREAM_URL_ENV = 'GATEHOUSE_UPSTREAM_URL'

/**
 * The default upstream for checking or explaining policies without a gateway
 * config: `--upstream URL`, else GATEHOUSE_UPSTREAM_URL; undefined when
 * neither is given (routes that name no upstream are then reported).
 */
export function standaloneUpstream (flag: string | undefined, env: NodeJS.ProcessEnv): { url: string, timeoutMs: number } | undefined {
  const where = flag === undefined ? UPSTREAM_URL_ENV : '--upstream'
  const text = flag ?? env[UPSTREAM_URL_ENV]
  if (text === undefined || text === '') return undefined
  const url = URL.parse(text)
  if (url === null || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError([{ where, message: `"${text}" is not an http or https URL`, severity: 'error' }])
  }
  return { url: url.href.replace(/\/$/, ''), timeoutMs: parseDuration(CONFIG_SCHEMA.properties.upstream.properties.timeout.default) }
}
