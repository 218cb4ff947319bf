import type { Problem } from '../errors.js'
import { nearest } from './nearest.js'

/** The environment variable that names the config file. Every other GATEHOUSE_ name maps to a key. */
export const CONFIG_FILE_ENV = 'GATEHOUSE_CONFIG'

export interface EnvKey {
  name: string
  path: string[]
  /** `integer-or-word`: a whole number, or one of the words a `oneOf` beside it allows (workers: auto or 4). */
  type: 'string' | 'boolean' | 'array' | 'integer' | 'integer-or-word' | 'map'
}

interface SchemaNode { type?: string; properties?: Record<string, SchemaNode>; additionalProperties?: unknown; enum?: readonly unknown[]; oneOf?: readonly SchemaNode[] }

/** Lists every leaf of the schema with its environment name: `oidc.client_id` is `GATEHOUSE_OIDC_CLIENT_ID`. */
export function envKeys (schema: SchemaNode, prefix: string[] = []): EnvKey[] {
  const keys: EnvKey[] = []
  for (const [name, node] of Object.entries(schema.properties ?? {})) {
    const path = [...prefix, name]
    if (node.type === 'object' && node.properties === undefined && typeof node.additionalProperties === 'object') {
      // A map (e.g. entra.group_names): `key=value` pairs separated by commas.
      keys.push({ name: `GATEHOUSE_${path.join('_').toUpperCase()}`, path, type: 'map' })
    } else if (node.type === 'object') {
      keys.push(...envKeys(node, path))
    } else if (node.type === undefined && node.oneOf?.some(branch => branch.type === 'integer') === true) {
      keys.push({ name: `GATEHOUSE_${path.join('_').toUpperCase()}`, path, type: 'integer-or-word' })
    } else {
      const type = node.type === 'boolean' || node.type === 'array' || node.type === 'integer' ? node.type : 'string'
      keys.push({ name: `GATEHOUSE_${path.join('_').toUpperCase()}`, path, type })
    }
  }
  return keys
}

/**
 * The variables Kubernetes injects for every Service of the namespace (unless
 * the pod sets enableServiceLinks: false), for a Service named `gatehouse` or
 * `gatehouse-…`: `{NAME}_SERVICE_HOST`, `{NAME}_SERVICE_PORT`,
 * `{NAME}_SERVICE_PORT_{PORT NAME}`, `{NAME}_PORT` and
 * `{NAME}_PORT_{port}_{PROTOCOL}` with `_PROTO`, `_PORT` and `_ADDR`. Each
 * name pattern goes with the form of its value, so that only these exact
 * forms are passed over.
 */
const HOST = '[0-9a-fA-F.:]+'
/** `tcp://10.96.0.7:8080`, `tcp://[fd00::7]:8080` (an address and port, as Go's JoinHostPort writes them). */
const LINK_URL = /^(?:tcp|udp|sctp):\/\/(?:[0-9.]+|\[[0-9a-fA-F:.]+\]):[0-9]{1,5}$/
const SERVICE_LINKS: ReadonlyArray<[RegExp, RegExp]> = [
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?SERVICE_HOST$/, new RegExp(`^${HOST}$`)],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?SERVICE_PORT(?:_[A-Z0-9_]+)?$/, /^[0-9]{1,5}$/],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?PORT$/, LINK_URL],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?PORT_[0-9]{1,5}_(?:TCP|UDP|SCTP)$/, LINK_URL],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?PORT_[0-9]{1,5}_(?:TCP|UDP|SCTP)_PROTO$/, /^(?:tcp|udp|sctp)$/],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?PORT_[0-9]{1,5}_(?:TCP|UDP|SCTP)_PORT$/, /^[0-9]{1,5}$/],
  [/^GATEHOUSE_(?:[A-Z0-9_]+_)?PORT_[0-9]{1,5}_(?:TCP|UDP|SCTP)_ADDR$/, new RegExp(`^${HOST}$`)],
]

/** Whether a variable that names no config key is one of Kubernetes' service links. */
export function isServiceLink (name: string, value: string): boolean {
  return SERVICE_LINKS.some(([names, values]) => names.test(name) && values.test(value))
}

/**
 * Reads GATEHOUSE_* variables into a partial config object. Unknown GATEHOUSE_
 * names are errors (a typo must not silently leave a default in place), apart
 * from Kubernetes' service links, which are listed in `ignored`.
 */
export function readEnv (env: Readonly<Record<string, string | undefined>>, keys: readonly EnvKey[]): { value: Record<string, unknown>, sources: Map<string, string>, problems: Problem[], ignored: string[] } {
  const byName = new Map(keys.map(k => [k.name, k]))
  const value: Record<string, unknown> = {}
  const sources = new Map<string, string>()
  const problems: Problem[] = []
  const ignored: string[] = []
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('GATEHOUSE_') || raw === undefined || name === CONFIG_FILE_ENV) continue
    const key = byName.get(name)
    if (key === undefined && isServiceLink(name, raw)) {
      ignored.push(name)
      continue
    }
    if (key === undefined) {
      // Compared without the common prefix, which would make every name look close.
      const hint = nearest(name.slice('GATEHOUSE_'.length), keys.map(k => k.name.slice('GATEHOUSE_'.length)))
      problems.push({ where: `env ${name}`, message: `unknown setting (no config key has this name)${hint === undefined ? '' : ` (did you mean GATEHOUSE_${hint}?)`}`, severity: 'error' })
      continue
    }
    let parsed: unknown = raw
    if (key.type === 'boolean') {
      if (/^(true|1|yes)$/i.test(raw)) parsed = true
      else if (/^(false|0|no)$/i.test(raw)) parsed = false
      else {
        problems.push({ where: `env ${name}`, message: `must be true or false, got "${raw}"`, severity: 'error' })
        continue
      }
    } else if (key.type === 'integer') {
      if (!/^[0-9]{1,15}$/.test(raw)) {
        problems.push({ where: `env ${name}`, message: `must be a whole number, got "${raw}"`, severity: 'error' })
        continue
      }
      parsed = Number(raw)
    } else if (key.type === 'integer-or-word') {
      // The schema then says whether the word is one it allows.
      parsed = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : raw
    } else if (key.type === 'array') {
      parsed = raw.split(/[\s,]+/).filter(s => s !== '')
    } else if (key.type === 'map') {
      const map: Record<string, string> = {}
      const pairs = raw.split(',').map(p => p.trim()).filter(p => p !== '')
      const bad = pairs.find(p => !/^[^=\s]+=[^=]+$/.test(p))
      if (bad !== undefined) {
        problems.push({ where: `env ${name}`, message: `must be key=value pairs separated by commas, got "${bad}"`, severity: 'error' })
        continue
      }
      for (const pair of pairs) {
        const eq = pair.indexOf('=')
        map[pair.slice(0, eq)] = pair.slice(eq + 1).trim()
      }
      parsed = map
    }
    let node = value
    for (const part of key.path.slice(0, -1)) {
      node = (node[part] ??= {}) as Record<string, unknown>
    }
    node[key.path[key.path.length - 1] as string] = parsed
    sources.set(key.path.join('.'), `env ${name}`)
  }
  return { value, sources, problems, ignored }
}
