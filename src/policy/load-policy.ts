import { createHash } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Ajv, type ErrorObject } from 'ajv'
import { parseDuration } from '../config/duration.js'
import { schemaProblems } from '../config/schema-problems.js'
import { inFileOrder } from '../config/problem-order.js'
import { readYamlFile, type YamlSource } from '../config/yaml-source.js'
import { ConfigError, type Problem } from '../errors.js'
import { CRITERIA, type CompileContext, type Criterion, type RawConditionSet } from '../authorize/criteria/index.js'
import { routeNeedsIdentity } from '../authorize/decision.js'
import { FOLDED_IDENTITY_PREFIX, foldHeaderName, GATEWAY_HEADERS } from '../net/header-name.js'
import { canonicalizeTarget } from './canonical-path.js'
import { RouteTable } from './route-table.js'
import { POLICY_SCHEMA } from './schema.js'
import { parseOrigin } from './websocket-origins.js'
import type { ConditionSet, DownstreamTokenOption, HostPattern, IdentityHeaderNames, PathPattern, Route, Upstream } from './types.js'
import { deepFreeze } from '../deep-freeze.js'

/** A loaded, validated, compiled and frozen policy. Requests keep the one they started with. */
export interface Policy {
  readonly routes: readonly Route[]
  readonly table: RouteTable
  readonly upstreams: ReadonlyMap<string, Upstream>
  /** Folded names of every identity header any route sends: clients can never send them. */
  readonly reservedHeaders: ReadonlySet<string>
  /** Every group some allow or deny entry names (for upstream.forward_groups: mentioned). */
  readonly mentionedGroups: ReadonlySet<string>
  /** sha256 of the files' names and contents, to tell which policy is live. */
  readonly hash: string
  readonly files: readonly string[]
}

export interface PolicySettings {
  /** The gateway config's upstream.url, available to policies as upstream `default`. */
  defaultUpstream: { url: string, timeoutMs: number } | undefined
  /** Whether the gateway config accepts bearer tokens (bearer.audiences); undefined when unknown (policy checked alone). */
  bearerConfigured?: boolean
  /** oidc.provider; undefined when unknown (policy checked alone). */
  provider?: 'generic' | 'entra'
}

export const DEFAULT_UPSTREAM_NAME = 'default'
const POLICY_FILE = /\.ya?ml$/
/** Policy test files (`gatehouse test`) may sit beside the policies: they are not policies. */
export const TEST_FILE = /\.test\.ya?ml$/
/** Names a route may not give to identity headers: they carry the request itself. */
/** The gateway's own headers (src/proxy/identity-headers.ts), folded: a downstream token may not take one of their names. */
const GATEWAY_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(GATEWAY_HEADERS).map(foldHeaderName))
const FORBIDDEN_HEADER_NAMES = new Set(['host', 'cookie', 'authorization', 'connection', 'content-length', 'content-type', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'keep-alive', 'proxy-authorization', 'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id'].map(foldHeaderName))

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true })
const validate = ajv.compile(POLICY_SCHEMA)

/**
 * Loads a policy file, or every *.yaml / *.yml file of a folder in name
 * order. Every problem is collected (file:line:col) and thrown together as a
 * ConfigError; warnings (routes that can never match, ranges with host bits)
 * are returned.
 */
export function loadPolicy (path: string, settings: PolicySettings): { policy: Policy, warnings: Problem[] } {
  const problems: Problem[] = []
  const files = policyFiles(path, problems)
  const sources: Array<{ source: YamlSource, text: string }> = []
  /** What the schema accepted of files it refused, for the other checks to report on in the same run. */
  const partial: Array<Pick<YamlSource, 'file' | 'value' | 'locate'>> = []
  for (const file of files) {
    const parsed = readYamlFile(file, problems)
    if (parsed === undefined) continue
    const { text } = parsed
    const value = parsed.source.value ?? {}
    if (!validate(value)) {
      const errors = validate.errors ?? []
      problems.push(...schemaProblems(errors, parsed.source.locate))
      const rest = schemaValidPart(value, errors)
      if (rest !== undefined) partial.push({ ...parsed.source, value: rest })
      continue
    }
    sources.push({ source: parsed.source, text })
  }
  if (problems.some(p => p.severity === 'error')) {
    // Every problem in one run: the rest is checked too, for its errors (its warnings and "no routes" would mislead).
    const more: Problem[] = []
    compile([...partial, ...sources.map(s => s.source)], settings, more)
    problems.push(...more.filter(p => p.severity === 'error' && !p.message.startsWith('no routes')))
    throw new ConfigError(inFileOrder(problems, files))
  }
  const compiled = compile(sources.map(s => s.source), settings, problems)
  if (problems.some(p => p.severity === 'error') || compiled === undefined) throw new ConfigError(problems)
  const hash = createHash('sha256')
  for (const { source, text } of sources) hash.update(`${source.file}\0${text}\0`)
  const policy = Object.freeze({ ...compiled, hash: hash.digest('hex'), files: Object.freeze(files) })
  return { policy, warnings: problems.filter(p => p.severity === 'warning') }
}

/**
 * A policy file's value without the routes and upstreams the schema refused
 * (and the routes that name such an upstream), as a copy whose route list
 * keeps its indices (refused ones are holes), so that the other checks locate
 * the rest correctly; undefined when the refusal is in the file's shape.
 */
function schemaValidPart (value: unknown, errors: readonly ErrorObject[]): RawPolicyFile | undefined {
  const raw = value as RawPolicyFile
  if (!Array.isArray(raw.routes ?? []) || typeof (raw.upstreams ?? {}) !== 'object') return undefined
  const badRoutes = new Set<number>()
  const badUpstreams = new Set<string>()
  for (const e of errors) {
    const [section, key] = e.instancePath.split('/').slice(1)
    if (section === 'routes' && key !== undefined) badRoutes.add(Number(key))
    else if (section === 'upstreams' && key !== undefined) badUpstreams.add(key.replaceAll('~1', '/').replaceAll('~0', '~'))
    else if (section === 'routes' || section === 'upstreams') return undefined
  }
  const upstreams = Object.fromEntries(Object.entries(raw.upstreams ?? {}).filter(([name]) => !badUpstreams.has(name)))
  const routes: RawRoute[] = []
  ;(raw.routes ?? []).forEach((route, i) => {
    if (!badRoutes.has(i) && !(route.upstream !== undefined && badUpstreams.has(route.upstream))) routes[i] = route
  })
  routes.length = raw.routes?.length ?? 0
  return { upstreams, routes }
}

/** Without policy files: one route, every path to the default upstream, for any signed-in user. */
export function defaultPolicy (settings: PolicySettings): Policy {
  const problems: Problem[] = []
  const compiled = compile([{ file: '(built-in)', value: { routes: [{ name: 'default', match: { path: '/**' }, allow: 'authenticated' }] }, locate: () => '(built-in)' }], settings, problems)
  if (compiled === undefined || problems.some(p => p.severity === 'error')) throw new ConfigError(problems)
  return Object.freeze({ ...compiled, hash: 'built-in', files: [] })
}

function policyFiles (path: string, problems: Problem[]): string[] {
  let stat
  try {
    stat = statSync(path)
  } catch (err) {
    problems.push({ where: path, message: `cannot read the policies: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' })
    return []
  }
  if (!stat.isDirectory()) return [path]
  const files = readdirSync(path).filter(f => POLICY_FILE.test(f) && !TEST_FILE.test(f) && !f.startsWith('.')).sort().map(f => join(path, f))
  if (files.length === 0) problems.push({ where: path, message: 'no *.yaml policy files in this folder', severity: 'error' })
  return files
}

interface RawRoute {
  name: string
  match: { host?: string | string[], path: string, methods?: string[] }
  upstream?: string
  allow: 'anyone' | 'authenticated' | RawConditionSet[]
  deny?: RawConditionSet[]
  headers?: IdentityHeaderNames
  assertion?: { audience?: string }
  rewrite_prefix?: string
  timeout?: string
  websockets?: boolean
  reauth_after?: string
  websocket_origins?: string[]
  pass_access_token?: boolean
  step_up_from_upstream?: boolean
  downstream_token?: { scopes: string[], resource?: string, header: string }
  credentials?: Array<'session' | 'bearer'>
}

interface RawPolicyFile {
  upstreams?: Record<string, { url: string, timeout?: string }>
  routes?: RawRoute[]
}

type Compiled = Omit<Policy, 'hash' | 'files'>

function compile (sources: ReadonlyArray<Pick<YamlSource, 'file' | 'value' | 'locate'>>, settings: PolicySettings, problems: Problem[]): Compiled | undefined {
  const error = (where: string, message: string): void => { problems.push({ where, message, severity: 'error' }) }
  const warn = (where: string, message: string): void => { problems.push({ where, message, severity: 'warning' }) }

  // Upstreams, from every file.
  const upstreams = new Map<string, Upstream & { where: string }>()
  if (settings.defaultUpstream !== undefined) upstreams.set(DEFAULT_UPSTREAM_NAME, { name: DEFAULT_UPSTREAM_NAME, url: settings.defaultUpstream.url, timeoutMs: settings.defaultUpstream.timeoutMs, where: 'config upstream.url' })
  for (const source of sources) {
    const raw = (source.value ?? {}) as RawPolicyFile
    for (const [name, u] of Object.entries(raw.upstreams ?? {})) {
      const where = source.locate(['upstreams'], name)
      const existing = upstreams.get(name)
      if (existing !== undefined) {
        error(where, `upstream "${name}" is already defined at ${existing.where}`)
        continue
      }
      let url: URL
      try {
        url = new URL(u.url)
      } catch {
        error(source.locate(['upstreams', name, 'url']), `"${u.url}" is not a URL`)
        continue
      }
      if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
        error(source.locate(['upstreams', name, 'url']), 'an upstream URL is an origin only (no path, query, fragment or credentials); to add a path prefix, use rewrite_prefix on the route')
        continue
      }
      upstreams.set(name, { name, url: url.href.replace(/\/$/, ''), timeoutMs: u.timeout === undefined ? undefined : parseDuration(u.timeout), where })
    }
  }

  const routes: Route[] = []
  const names = new Map<string, string>()
  for (const source of sources) {
    const raw = (source.value ?? {}) as RawPolicyFile
    ;(raw.routes ?? []).forEach((r, i) => {
      const at = (...path: Array<string | number>): string => source.locate(['routes', i, ...path])
      const where = at()
      const before = problems.length
      const firstName = names.get(r.name)
      if (firstName !== undefined) error(at('name'), `route name "${r.name}" is already used at ${firstName}`)
      else names.set(r.name, where)

      if (r.credentials?.includes('bearer') === true && settings.bearerConfigured === false) {
        error(at('credentials'), 'this route accepts bearer tokens, but the gateway config sets no bearer.audiences: every token would be refused')
      }

      const upstreamName = r.upstream ?? (settings.defaultUpstream === undefined ? undefined : DEFAULT_UPSTREAM_NAME)
      const upstream = upstreamName === undefined ? undefined : upstreams.get(upstreamName)
      if (upstreamName === undefined) error(where, 'upstream is required (no default upstream: set upstream.url in the gateway config, or name one of this file\'s upstreams)')
      else if (upstream === undefined) error(at('upstream'), `unknown upstream "${upstreamName}"; known: ${[...upstreams.keys()].join(', ') || 'none'}`)

      const path = compilePath(r.match.path, at('match', 'path'), error)
      const hosts = r.match.host === undefined ? undefined : (Array.isArray(r.match.host) ? r.match.host : [r.match.host]).map((h, k) => compileHost(h, Array.isArray(r.match.host) ? at('match', 'host', k) : at('match', 'host'), error))
      const methods = r.match.methods === undefined ? undefined : new Set(r.match.methods)

      const conditions = (list: RawConditionSet[] | undefined, key: 'allow' | 'deny'): ConditionSet[] => (list ?? []).map((c, k) => compileCondition(c, k, key, (...p) => at(key, k, ...p), error, warn))
      const allow = typeof r.allow === 'string' ? r.allow : conditions(r.allow, 'allow')
      const deny = conditions(r.deny, 'deny')

      let rewrite: Route['rewrite']
      if (r.rewrite_prefix !== undefined && path !== undefined) {
        const last = path.segments[path.segments.length - 1]
        const literal = path.segments.slice(0, -1)
        if (last !== '**' || literal.some(s => s === '*')) error(at('rewrite_prefix'), 'rewrite_prefix needs a path of the form /literal/prefix/**')
        else {
          const target = canonicalizeTarget(r.rewrite_prefix)
          if (!target.ok || target.value.query !== '' || target.value.path !== r.rewrite_prefix.replace(/(.)\/$/, '$1')) error(at('rewrite_prefix'), `rewrite_prefix must be a plain path such as /v2 (got "${r.rewrite_prefix}")`)
          else rewrite = { from: `/${literal.join('/')}`, to: target.value.path }
        }
      }

      const headers: IdentityHeaderNames = { ...r.headers }
      for (const [kind, name] of Object.entries(headers)) {
        const folded = foldHeaderName(name)
        if (FORBIDDEN_HEADER_NAMES.has(folded) || folded.startsWith(FOLDED_IDENTITY_PREFIX)) error(at('headers', kind), `"${name}" cannot carry identity: the name is reserved`)
      }

      const websocketOrigins = (r.websocket_origins ?? []).flatMap((text, k) => {
        const origin = parseOrigin(text)
        if (origin === undefined) error(at('websocket_origins', k), `"${text}" is not an origin: give scheme://host[:port], e.g. https://app.example.com (no path, query or credentials)`)
        return origin === undefined ? [] : [origin]
      })

      const downstreamToken = compileDownstreamToken(r, headers, settings, at, error)

      if (problems.slice(before).some(p => p.severity === 'error') || path === undefined || upstream === undefined) return
      const route: Route = {
        index: routes.length,
        name: r.name,
        where,
        hosts,
        path,
        methods,
        upstream: { name: upstream.name, url: upstream.url, timeoutMs: upstream.timeoutMs },
        allow,
        deny,
        headers,
        audience: r.assertion?.audience ?? upstream.url,
        rewrite,
        timeoutMs: r.timeout === undefined ? upstream.timeoutMs : parseDuration(r.timeout),
        websockets: r.websockets ?? true,
        ...(r.reauth_after === undefined ? {} : { reauthAfterMs: parseDuration(r.reauth_after) }),
        websocketOrigins,
        passAccessToken: r.pass_access_token ?? false,
        stepUpFromUpstream: r.step_up_from_upstream === true,
        downstreamToken,
        credentials: { session: (r.credentials ?? ['session']).includes('session'), bearer: (r.credentials ?? []).includes('bearer') },
        needsIdentity: routeNeedsIdentity({ allow, deny }),
      }
      routes.push(deepFreeze(route))
    })
  }
  if (problems.some(p => p.severity === 'error')) return undefined
  if (routes.length === 0) {
    error(sources[0]?.file ?? 'policies', 'no routes: every request would be refused; add at least one route')
    return undefined
  }

  // Routes that can never match: an earlier route fits every request they fit.
  const table = new RouteTable(routes)
  for (const later of routes) {
    const earlier = table.earlierCovering(later)
    if (earlier !== undefined) warn(later.where, `route "${later.name}" can never match: route "${earlier.name}" (${earlier.where}) comes first and fits every request it fits`)
  }

  const reserved = new Set<string>()
  for (const route of routes) for (const name of Object.values(route.headers)) reserved.add(foldHeaderName(name))
  // A downstream token's header is the gateway's on every route: a client's copy never reaches an upstream.
  for (const route of routes) if (route.downstreamToken !== undefined) reserved.add(foldHeaderName(route.downstreamToken.header))
  const mentionedGroups = new Set<string>()
  for (const route of routes) {
    for (const entry of [...route.deny, ...(Array.isArray(route.allow) ? route.allow : [])]) {
      for (const c of ALL_CRITERIA) {
        const value = (entry as Readonly<Record<string, unknown>>)[c.field]
        if (value !== undefined && c.groups !== undefined) for (const g of c.groups(value)) mentionedGroups.add(g)
      }
    }
  }
  return {
    mentionedGroups,
    routes: Object.freeze(routes),
    table,
    upstreams: new Map([...upstreams].map(([k, u]) => [k, { name: u.name, url: u.url, timeoutMs: u.timeoutMs }])),
    reservedHeaders: reserved,
  }
}

/** A route's `downstream_token`, its header name checked against every name the gateway sets or the request needs. */
function compileDownstreamToken (r: RawRoute, headers: IdentityHeaderNames, settings: PolicySettings, at: (...path: Array<string | number>) => string, error: (where: string, message: string) => void): DownstreamTokenOption | undefined {
  const option = r.downstream_token
  if (option === undefined) return undefined
  const folded = foldHeaderName(option.header)
  if (FORBIDDEN_HEADER_NAMES.has(folded) || GATEWAY_HEADER_NAMES.has(folded)) error(at('downstream_token', 'header'), `"${option.header}" cannot carry a downstream token: the name is reserved`)
  else if (Object.values(headers).some(name => foldHeaderName(name) === folded)) error(at('downstream_token', 'header'), `"${option.header}" already carries identity on this route`)
  if (option.resource !== undefined && settings.provider === 'entra') error(at('downstream_token', 'resource'), 'Microsoft Entra ID takes no resource indicator: name the API in the scopes (e.g. api://my-api/Read)')
  const scopes = [...option.scopes]
  return {
    scopes,
    resource: option.resource,
    header: option.header.toLowerCase(),
    key: `${option.resource ?? ''} ${[...scopes].sort().join(' ')}`,
  }
}

function compilePath (text: string, where: string, error: (where: string, message: string) => void): PathPattern | undefined {
  const segments = text.split('/').slice(1)
  if (text === '/') return { text, segments: [] }
  if (segments.some(s => s === '')) {
    error(where, `path pattern "${text}" has an empty segment`)
    return undefined
  }
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i] as string
    if (s === '**' && i !== segments.length - 1) {
      error(where, `"**" may only end a path pattern ("${text}")`)
      return undefined
    }
    if (s !== '*' && s !== '**' && s.includes('*')) {
      error(where, `"*" stands for a whole segment; "${s}" is not allowed in "${text}"`)
      return undefined
    }
    if (s.includes(';')) {
      error(where, `path patterns match paths without ;parameters; remove "${s.slice(s.indexOf(';'))}" from "${text}"`)
      return undefined
    }
  }
  const canonical = canonicalizeTarget(text.replace(/\*/g, 'x'))
  const expected = canonical.ok ? canonical.value.path : undefined
  if (expected !== text.replace(/\*/g, 'x')) {
    error(where, canonical.ok
      ? `path pattern "${text}" is not in canonical form; requests are matched in canonical form (write "${canonical.value.path}" with the same wildcards)`
      : `path pattern "${text}" is not a valid path (${canonical.detail})`)
    return undefined
  }
  return { text, segments }
}

function compileHost (text: string, where: string, error: (where: string, message: string) => void): HostPattern {
  const host = text.toLowerCase().replace(/\.$/, '')
  const wildcard = host.startsWith('*.')
  const name = wildcard ? host.slice(2) : host
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name) && !/^\[[0-9a-f:.]+\]$/.test(name)) {
    error(where, `"${text}" is not a host name or *.domain pattern (no port, no scheme)`)
  }
  return { text, host: name, wildcard }
}

/** The criteria without their literal types, for loops over all of them. */
const ALL_CRITERIA: readonly Criterion[] = CRITERIA
const USER_CONDITION_KEYS = ALL_CRITERIA.filter(c => c.needsUser).map(c => c.key)

function compileCondition (c: RawConditionSet, _k: number, list: 'allow' | 'deny', at: (...path: Array<string | number>) => string, error: (where: string, message: string) => void, warn: (where: string, message: string) => void): ConditionSet {
  const raw = c as Readonly<Record<string, unknown>>
  const userKeys = USER_CONDITION_KEYS.filter(k => raw[k] !== undefined)
  if (c.anonymous === true && list === 'deny') error(at('anonymous'), '"anonymous" has no meaning in deny')
  if (c.anonymous === true && userKeys.length > 0) error(at('anonymous'), `an anonymous entry cannot also test the user (${userKeys.join(', ')}); write two entries`)
  if (c.anonymous === true && Object.keys(c).length === 1) warn(at('anonymous'), 'an anonymous entry without other conditions lets everyone through; write allow: anyone if that is meant')

  const set: Record<string, unknown> = { where: at() }
  for (const criterion of ALL_CRITERIA) {
    const value = raw[criterion.key]
    if (value === undefined) continue
    const ctx: CompileContext = { at: (...path) => at(criterion.key, ...path), error, warn }
    set[criterion.field] = criterion.compile(value, ctx)
  }
  if (c.ip !== undefined) set.ipText = c.ip
  if (c.anonymous === true) set.anonymous = true
  return set as ConditionSet
}
