import { accessSync, constants, readFileSync, statSync } from 'node:fs'
import { dirname } from 'node:path'
import { Ajv } from 'ajv'
import { ConfigError, type Problem } from '../errors.js'
import { parseDuration } from './duration.js'
import { parseSize } from './size.js'
import { pointerPath, schemaProblems } from './schema-problems.js'
import { envKeys, readEnv } from './env.js'
import { CONFIG_SCHEMA, GUID_PATTERN } from './schema.js'
import type { BearerSettings, EntraSettings, GatewayConfig, SsfTransmitter, TlsSettings } from './types.js'
import { readTlsFiles } from '../tls/tls-files.js'
import { parseRange, type Cidr } from '../net/address.js'
import { singleHostUrl } from '../net/redis-url.js'
import { parseYaml, type YamlSource } from './yaml-source.js'
import { deepFreeze } from '../deep-freeze.js'

export interface LoadConfigOptions {
  /** Path of the YAML file; optional, the environment alone can configure the gateway. */
  file?: string | undefined
  env?: Readonly<Record<string, string | undefined>>
  /** Only the demo may run without a signing key file (it generates one). */
  allowGeneratedKey?: boolean
  /**
   * `sessions`: for `gatehouse sessions`, which needs Redis, the key prefix
   * and the session secret(s) only; the settings only a serving gateway
   * needs (public_url, oidc, signing, upstream) are not required, though
   * still checked when given.
   */
  purpose?: 'serve' | 'sessions'
}

/** The sections `gatehouse sessions` requires. */
const SESSIONS_REQUIRE: ReadonlySet<string> = new Set(['session', 'redis'])

export interface LoadedConfig {
  config: GatewayConfig
  /** Non-fatal findings, to be logged at start-up. */
  warnings: Problem[]
  /** Kubernetes service-link variables passed over (GATEHOUSE_SERVICE_HOST, …), for a debug line at start-up. */
  ignoredEnv: readonly string[]
}

const MIN_SECRET_LENGTH = 32
export const ENV_KEYS = envKeys(CONFIG_SCHEMA as never)

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: true, strictTuples: false, verbose: true })
ajv.addKeyword({ keyword: 'x-secret', schemaType: 'boolean' })
const validate = ajv.compile(CONFIG_SCHEMA)

/**
 * Loads the config file (if any), overlays GATEHOUSE_* environment variables,
 * validates everything, and returns a frozen config. Every problem is reported
 * together in one ConfigError, located as file:line:col or by env name.
 */
/** upstream.timeout when not set. */

export function loadConfig (opts: LoadConfigOptions = {}): LoadedConfig {
  const problems: Problem[] = []
  let yaml: YamlSource | undefined
  let fileValue: Record<string, unknown> = {}

  if (opts.file !== undefined) {
    let text: string | undefined
    try {
      text = readFileSync(opts.file, 'utf8')
    } catch (err) {
      problems.push({ where: opts.file, message: `cannot read the config file: ${(err as Error).message}`, severity: 'error' })
    }
    if (text !== undefined) {
      const parsed = parseYaml(opts.file, text)
      problems.push(...parsed.problems)
      yaml = parsed.source
      if (parsed.source.value === null || parsed.source.value === undefined) {
        fileValue = {}
      } else if (typeof parsed.source.value !== 'object' || Array.isArray(parsed.source.value)) {
        problems.push({ where: `${opts.file}:1:1`, message: 'the config file must be a mapping of keys to values', severity: 'error' })
      } else {
        fileValue = parsed.source.value as Record<string, unknown>
      }
    }
  }

  const fromEnv = readEnv(opts.env ?? {}, ENV_KEYS)
  problems.push(...fromEnv.problems)
  const raw = deepMerge(structuredClone(fileValue), fromEnv.value)

  const where = (path: ReadonlyArray<string | number>, key?: string): string => {
    const full = key === undefined ? path : [...path, key]
    for (let depth = full.length; depth > 0; depth--) {
      const env = fromEnv.sources.get(full.slice(0, depth).join('.'))
      if (env !== undefined) return env
    }
    if (yaml !== undefined) return yaml.locate(path, key)
    return `config ${full.join('.') || '(root)'}`
  }

  if (problems.some(p => p.severity === 'error')) throw new ConfigError(problems)

  // Schema problems are collected, and the values they concern set aside, so
  // that the checks below still run on everything else: one report lists all.
  const invalid = new Set<string>()
  if (!validate(raw)) {
    problems.push(...schemaProblems(validate.errors ?? [], where))
    for (const e of validate.errors ?? []) {
      const path = pointerPath(e.instancePath)
      if (e.keyword === 'additionalProperties') path.push(String((e.params as { additionalProperty: string }).additionalProperty))
      invalid.add(path.join('.'))
      removeAt(raw, path)
    }
    // Values set aside get their schema defaults, so the checks below see what the rest of the config would.
    validate(raw)
  }

  // Validated, with the schema defaults filled in (the values set aside are absent).
  const r = raw as unknown as RawConfig
  const required = (path: readonly string[]): boolean => opts.purpose !== 'sessions' || SESSIONS_REQUIRE.has(path[0] ?? '')
  const need = (value: unknown, path: string[], hint: string): void => {
    if ((value === undefined || value === '') && !invalid.has(path.join('.')) && required(path)) {
      problems.push({ where: opts.file ?? 'config', message: `${path.join('.')} is required (${hint}; env ${envName(path)})`, severity: 'error' })
    }
  }

  // public_url
  need(r.public_url, ['public_url'], 'the URL people use to reach the gateway')
  const publicUrl = r.public_url === undefined ? undefined : checkUrl(r.public_url, ['http:', 'https:'], where(['public_url']), problems)
  if (publicUrl !== undefined && (publicUrl.pathname !== '/' || publicUrl.search !== '' || publicUrl.hash !== '' || publicUrl.username !== '' || publicUrl.password !== '')) {
    problems.push({ where: where(['public_url']), message: 'public_url must be an origin only (scheme, host and port), without path, query or credentials', severity: 'error' })
  }

  // listen
  const listen = parseListen(r.listen)
  if (listen === undefined) problems.push({ where: where(['listen']), message: `listen must be host:port (e.g. 0.0.0.0:8080 or [::]:8080), got "${r.listen}"`, severity: 'error' })

  // admin listener: off, or host:port on another port than the public listener
  const adminText = r.admin.listen
  const admin = adminText === 'off' ? undefined : parseListen(adminText)
  if (adminText !== 'off' && admin === undefined) {
    problems.push({ where: where(['admin', 'listen']), message: `admin.listen must be host:port (e.g. 127.0.0.1:9464 or [::]:9464) or off, got "${adminText}"`, severity: 'error' })
  } else if (admin !== undefined && listen !== undefined && admin.port !== 0 && admin.port === listen.port && (admin.host === listen.host || isWildcard(admin.host) || isWildcard(listen.host))) {
    problems.push({ where: where(['admin', 'listen']), message: `admin.listen (${adminText}) must not be the public listener's address (${r.listen}): metrics are never served to the public`, severity: 'error' })
  }

  const tls = tlsSettings(r.tls, publicUrl, listen, admin, where, problems)
  const hsts = r.tls?.strict_transport_security
  if (hsts !== undefined && publicUrl !== undefined && publicUrl.protocol !== 'https:') {
    problems.push({ where: where(['tls', 'strict_transport_security']), message: 'tls.strict_transport_security is sent only over HTTPS: public_url must be https', severity: 'error' })
  }

  // log.audit: stdout, stderr, or a file the gateway can append to
  const auditSink = r.log.audit
  if (auditSink !== undefined && auditSink !== 'stdout' && auditSink !== 'stderr') {
    const problem = checkWritableFile(auditSink)
    if (problem !== undefined) problems.push({ where: where(['log', 'audit']), message: `log.audit: ${problem}`, severity: 'error' })
  }

  // oidc
  const oidc = r.oidc
  const provider = oidc.provider
  const allowInsecureHttp = oidc.allow_insecure_http
  const entra = provider === 'entra' ? entraSettings(r.entra, where, problems, opts.file, allowInsecureHttp) : undefined
  if (provider !== 'entra' && r.entra !== undefined) {
    problems.push({ where: where(['entra']), message: 'the entra section is used only with oidc.provider: entra', severity: 'error' })
  }
  if (entra !== undefined && oidc.issuer !== undefined) {
    problems.push({ where: where(['oidc', 'issuer']), message: 'with oidc.provider: entra the issuer is derived from entra.tenant; remove oidc.issuer', severity: 'error' })
  }
  if (provider !== 'entra') need(oidc.issuer, ['oidc', 'issuer'], 'the OpenID Provider issuer URL')
  need(oidc.client_id, ['oidc', 'client_id'], 'the client id registered at the OpenID Provider')
  const issuerText = entra === undefined ? oidc.issuer : `${entra.authorityHost}/${entra.tenant}/v2.0`
  if (issuerText !== undefined && entra === undefined) {
    checkHttpsUrl(issuerText, where(['oidc', 'issuer']), problems, allowInsecureHttp, 'the issuer is plain http; set oidc.allow_insecure_http: true (GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP) only for local development')
  }
  const bearer = bearerSettings(r.bearer, entra, where, problems)
  const ssfTransmitters = transmitterSettings(r.ssf?.transmitters ?? [], where, problems, opts.file, allowInsecureHttp)
  const clientSecret = readSecret(oidc.client_secret, oidc.client_secret_file, ['oidc', 'client_secret'], where, problems, opts.file, required(['oidc']))

  // session
  const session = r.session
  const sessionSecret = readSecret(session.secret, session.secret_file, ['session', 'secret'], where, problems, opts.file)
  if (sessionSecret !== undefined && sessionSecret.length < MIN_SECRET_LENGTH) {
    problems.push({ where: where(['session', session.secret !== undefined ? 'secret' : 'secret_file']), message: `the session secret must be at least ${MIN_SECRET_LENGTH} characters (e.g. openssl rand -base64 48)`, severity: 'error' })
  }

  // redis
  const redis = r.redis
  const warnings: Problem[] = problems.filter(p => p.severity === 'warning')
  if (redis.url !== undefined) {
    checkUrl(singleHostUrl(redis.url), ['redis:', 'rediss:', 'redis+sentinel:', 'rediss+sentinel:', 'redis+cluster:', 'rediss+cluster:'], where(['redis', 'url']), problems)
  } else {
    if (r.workers !== 1 && opts.purpose !== 'sessions' && !invalid.has('workers')) {
      problems.push({ where: where(['workers']), message: `workers: ${r.workers} needs redis.url: sessions kept in memory cannot be shared between worker processes (set redis.url, or workers: 1)`, severity: 'error' })
    }
    warnings.push({ where: 'redis.url', message: 'no Redis configured: sessions are kept in memory, lost on restart, and not shared between replicas (single instance only)', severity: 'warning' })
  }

  // signing
  const signing = r.signing
  if (signing.key_file === undefined && opts.allowGeneratedKey !== true) {
    need(undefined, ['signing', 'key_file'], 'a PEM or JWK private key used to sign identity assertions')
  }

  // upstream: the default one; policies may name others.
  const upstream = r.upstream
  if (r.policies === undefined) need(upstream.url, ['upstream', 'url'], 'the application Gatehouse forwards to, unless policies name upstreams')

  const limits = checkLimits(r.limits, where, problems)

  if (r.branding.logo_url !== undefined) checkUrl(r.branding.logo_url, ['https:'], where(['branding', 'logo_url']), problems)

  // trusted proxies
  const trustedProxies: Cidr[] = []
  ;(r.trusted_proxies ?? []).forEach((text, i) => {
    const parsed = parseRange(text)
    if (typeof parsed === 'string') problems.push({ where: where(['trusted_proxies', i]), message: parsed, severity: 'error' })
    else trustedProxies.push(parsed.range)
  })
  if (upstream.url !== undefined) {
    const u = checkUrl(upstream.url, ['http:', 'https:'], where(['upstream', 'url']), problems)
    if (u !== undefined && (u.pathname !== '/' || u.search !== '' || u.hash !== '' || u.username !== '' || u.password !== '')) {
      problems.push({ where: where(['upstream', 'url']), message: 'upstream.url must be an origin only (scheme, host, port); to add a path prefix, use a policy route with rewrite_prefix', severity: 'error' })
    }
  }

  if (problems.some(p => p.severity === 'error')) throw new ConfigError([...problems, ...warnings.filter(w => !problems.includes(w))])

  const secure = publicUrl?.protocol === 'https:'
  const cookieBase = session.cookie_name
  const config: GatewayConfig = deepFreeze({
    listen: listen as { host: string, port: number },
    workers: r.workers,
    // Absent only for purpose 'sessions', which reads session and redis alone.
    publicUrl: publicUrl?.origin ?? '',
    publicParts: { protocol: secure ? 'https' : 'http', host: publicUrl?.host ?? '' },
    secureCookies: secure,
    policies: r.policies,
    tls,
    strictTransportSecurity: hsts,
    trustedProxies,
    oidc: {
      provider,
      issuer: issuerText as string,
      clientId: oidc.client_id as string,
      clientSecret: clientSecret as string,
      tokenAuthMethod: oidc.token_auth_method,
      scopes: oidc.scopes,
      allowInsecureHttp,
      discoveryTimeoutMs: parseDuration(oidc.discovery_timeout),
      groupsClaim: oidc.groups_claim,
      rolesClaim: oidc.roles_claim,
      mfaAcrValues: oidc.mfa_acr_values,
      reauthPromptLogin: oidc.reauth_prompt_login,
    },
    entra,
    bearer,
    ssf: { transmitters: ssfTransmitters },
    session: {
      secret: sessionSecret as string,
      previousSecrets: session.previous_secrets ?? [],
      cookieName: secure ? `__Host-${cookieBase}` : cookieBase,
      idleTimeoutMs: parseDuration(session.idle_timeout),
      maxLifetimeMs: parseDuration(session.max_lifetime),
      refreshSkewMs: parseDuration(session.refresh_skew),
      cacheTtlMs: parseDuration(session.cache_ttl),
    },
    redis: {
      url: redis.url,
      keyPrefix: redis.key_prefix,
      commandTimeoutMs: parseDuration(redis.command_timeout),
    },
    signing: {
      keyFile: signing.key_file,
      algorithm: signing.algorithm,
      assertionTtlMs: parseDuration(signing.assertion_ttl),
    },
    upstream: {
      url: upstream.url === undefined ? undefined : new URL(upstream.url).href.replace(/\/$/, ''),
      timeoutMs: parseDuration(upstream.timeout),
      connectTimeoutMs: parseDuration(upstream.connect_timeout),
      forwardGroups: upstream.forward_groups,
    },
    limits,
    branding: {
      productName: r.branding.product_name,
      logoUrl: r.branding.logo_url,
      accentColor: r.branding.accent_color,
      supportContact: r.branding.support_contact,
    },
    pages: { denialDetail: r.pages.denial_detail },
    shutdown: { gracePeriodMs: parseDuration(r.shutdown.grace_period) },
    admin: { listen: admin },
    log: { level: r.log.level, audit: auditSink, decisions: decisionLogging(r.log.decisions) },
    policy: { tests: r.policy?.tests },
  })
  return { config, warnings, ignoredEnv: fromEnv.ignored }
}

/** The environment variable name of a config key path. */
export function envName (path: readonly string[]): string {
  return `GATEHOUSE_${path.join('_').toUpperCase()}`
}

/** The config after validation: every key with a schema default is present. */
interface RawConfig {
  listen: string
  workers: number | 'auto'
  public_url?: string
  policies?: string
  tls?: RawTls
  trusted_proxies?: string[]
  oidc: { provider: 'generic' | 'entra', issuer?: string, client_id?: string, client_secret?: string, client_secret_file?: string, token_auth_method: 'client_secret_basic' | 'client_secret_post', scopes: string[], allow_insecure_http: boolean, discovery_timeout: string, groups_claim: string, roles_claim: string, mfa_acr_values: string[], reauth_prompt_login: boolean }
  entra?: RawEntra
  bearer: RawBearer
  ssf?: { transmitters?: RawTransmitter[] }
  session: { secret?: string, secret_file?: string, previous_secrets?: string[], cookie_name: string, idle_timeout: string, max_lifetime: string, refresh_skew: string, cache_ttl: string }
  redis: { url?: string, key_prefix: string, command_timeout: string }
  signing: { key_file?: string, algorithm: GatewayConfig['signing']['algorithm'], assertion_ttl: string }
  upstream: { url?: string, timeout: string, connect_timeout: string, forward_groups: 'all' | 'mentioned' }
  limits: RawLimits
  branding: { product_name: string, logo_url?: string, accent_color: string, support_contact?: string }
  pages: { denial_detail: 'detailed' | 'terse' }
  shutdown: { grace_period: string }
  admin: { listen: string }
  log: { level: string, audit?: string, decisions: string }
  policy?: { tests?: string }
}

interface RawTls { cert_file?: string, key_file?: string, client_ca_file?: string, client_certificates: 'optional' | 'required', redirect_listen: string, strict_transport_security?: string }

type Listen = { host: string, port: number } | undefined

/**
 * tls.*: both files or neither, an https public_url, a redirect listener on
 * a port of its own, and files that serve (read and checked here, so that
 * `gatehouse check` reports them too).
 */
function tlsSettings (raw: RawTls | undefined, publicUrl: URL | undefined, listen: Listen, admin: Listen, where: Where, problems: Problem[]): TlsSettings | undefined {
  if (raw === undefined) return undefined
  const error = (key: string, message: string): void => { problems.push({ where: where(['tls', key]), message, severity: 'error' }) }
  const { cert_file: certFile, key_file: keyFile, client_ca_file: clientCaFile } = raw
  if (certFile === undefined || keyFile === undefined) {
    if (certFile !== undefined || keyFile !== undefined) error(certFile === undefined ? 'key_file' : 'cert_file', 'tls.cert_file and tls.key_file go together: set both (env GATEHOUSE_TLS_CERT_FILE and GATEHOUSE_TLS_KEY_FILE)')
    for (const key of ['client_ca_file', 'redirect_listen'] as const) {
      if (key === 'client_ca_file' ? clientCaFile !== undefined : raw.redirect_listen !== 'off') error(key, `tls.${key} needs the gateway to serve HTTPS itself: set tls.cert_file and tls.key_file`)
    }
    return undefined
  }
  if (publicUrl !== undefined && publicUrl.protocol !== 'https:') error('cert_file', `the public listener serves HTTPS with tls.cert_file: public_url must be https, got ${publicUrl.origin}`)
  if (clientCaFile === undefined && raw.client_certificates === 'required') error('client_certificates', 'tls.client_certificates: required needs tls.client_ca_file, the CAs client certificates are verified against')
  const redirectListen = raw.redirect_listen === 'off' ? undefined : parseListen(raw.redirect_listen)
  if (raw.redirect_listen !== 'off') {
    if (redirectListen === undefined) error('redirect_listen', `tls.redirect_listen must be host:port (e.g. 0.0.0.0:80) or off, got "${raw.redirect_listen}"`)
    else {
      for (const [other, name] of [[listen, 'listen'], [admin, 'admin.listen']] as const) {
        if (other !== undefined && redirectListen.port !== 0 && redirectListen.port === other.port && (redirectListen.host === other.host || isWildcard(redirectListen.host) || isWildcard(other.host))) {
          error('redirect_listen', `tls.redirect_listen (${raw.redirect_listen}) must not be the address of ${name}`)
        }
      }
    }
  }
  const read = readTlsFiles({ certFile, keyFile, clientCaFile })
  if (!read.ok) for (const p of read.problems) error(p.key, `tls.${p.key}: ${p.message}`)
  return { certFile, keyFile, clientCaFile, clientCertificates: raw.client_certificates, redirectListen }
}

/** log.decisions, already checked against the schema's pattern. */
function decisionLogging (text: string): GatewayConfig['log']['decisions'] {
  if (text === 'denied' || text === 'all') return { kind: text }
  return { kind: 'sample', fraction: Number(text.slice('sample:'.length)) }
}

/** Present only when the file or environment sets it; then its defaults are filled in. */
interface RawEntra { tenant?: string, allowed_tenants?: string[], authority_host: string, graph_url: string, graph_timeout: string, groups_cache_ttl: string, group_names?: Record<string, string>, only_named_groups: boolean, mfa_auth_contexts?: string[], directory_watch: { enabled: boolean, interval: string } }
interface RawTransmitter { issuer: string, jwks_url: string, audience: string, bearer_secret?: string, bearer_secret_file?: string }
interface RawBearer { audiences?: string[], issuers?: string[], jwks_url?: string, clock_tolerance: string }

const MULTI_TENANT = new Set(['organizations', 'common'])
const GUID = new RegExp(GUID_PATTERN)
/** Microsoft Graph throttles a tenant's delta queries polled more often than this. */
const MIN_DIRECTORY_INTERVAL_MS = 10_000

function entraSettings (e: RawEntra | undefined, where: Where, problems: Problem[], file: string | undefined, allowInsecureHttp: boolean): EntraSettings | undefined {
  if (e?.tenant === undefined) {
    problems.push({ where: file ?? 'config', message: 'entra.tenant is required with oidc.provider: entra (a tenant id, a verified domain, or organizations / common; env GATEHOUSE_ENTRA_TENANT)', severity: 'error' })
    return undefined
  }
  const tenant = e.tenant.toLowerCase()
  const multiTenant = MULTI_TENANT.has(tenant)
  const allowed = (e.allowed_tenants ?? []).map(t => t.toLowerCase())
  if (multiTenant && allowed.length === 0) {
    problems.push({ where: where(['entra', 'tenant']), message: `a multi-tenant app (${tenant}) accepts any tenant's users unless told which: list the accepted tenant ids in entra.allowed_tenants`, severity: 'error' })
  }
  if (tenant === 'consumers') {
    problems.push({ where: where(['entra', 'tenant']), message: 'personal Microsoft accounts (consumers) are not supported: use a tenant id, a domain, organizations or common', severity: 'error' })
  }
  if (!multiTenant && GUID.test(tenant) && allowed.length > 0 && !allowed.includes(tenant)) {
    problems.push({ where: where(['entra', 'allowed_tenants']), message: `the single tenant ${tenant} is not in entra.allowed_tenants`, severity: 'error' })
  }
  const authority = checkHttpsUrl(e.authority_host, where(['entra', 'authority_host']), problems, allowInsecureHttp, 'the authority host is plain http; set oidc.allow_insecure_http: true only for local development')
  const graph = checkHttpsUrl(e.graph_url, where(['entra', 'graph_url']), problems, allowInsecureHttp, 'the Graph URL is plain http; set oidc.allow_insecure_http: true only for local development')
  const groupNames: Record<string, string> = {}
  for (const [id, name] of Object.entries(e.group_names ?? {})) groupNames[id.toLowerCase()] = name
  if (e.only_named_groups === true && Object.keys(groupNames).length === 0) {
    problems.push({ where: where(['entra', 'only_named_groups']), message: 'only_named_groups keeps no group at all while entra.group_names is empty', severity: 'error' })
  }
  const watchTenant = directoryWatchTenant(e, tenant, multiTenant, allowed, where, problems)
  return {
    tenant,
    multiTenant,
    allowedTenants: !multiTenant && GUID.test(tenant) && allowed.length === 0 ? [tenant] : allowed,
    // A URL that failed its check is reported above; the config is then never built.
    authorityHost: authority?.origin ?? e.authority_host,
    graphUrl: (graph?.href ?? e.graph_url).replace(/\/+$/, ''),
    graphTimeoutMs: parseDuration(e.graph_timeout),
    groupsCacheTtlMs: parseDuration(e.groups_cache_ttl),
    groupNames,
    onlyNamedGroups: e.only_named_groups,
    mfaAuthContexts: e.mfa_auth_contexts ?? [],
    directoryWatch: watchTenant === undefined ? undefined : { tenant: watchTenant, intervalMs: parseDuration(e.directory_watch.interval) },
  }
}

/**
 * The tenant whose directory entra.directory_watch reads (its users are
 * known by tid/oid), or undefined when the watch is off. One tenant only:
 * the gateway's app credentials read one directory.
 */
function directoryWatchTenant (e: RawEntra, tenant: string, multiTenant: boolean, allowed: readonly string[], where: Where, problems: Problem[]): string | undefined {
  if (!e.directory_watch.enabled) return undefined
  if (parseDuration(e.directory_watch.interval) < MIN_DIRECTORY_INTERVAL_MS) {
    problems.push({ where: where(['entra', 'directory_watch', 'interval']), message: 'entra.directory_watch.interval must be at least 10s (Microsoft Graph throttles faster polling)', severity: 'error' })
  }
  if (!multiTenant && GUID.test(tenant)) return tenant
  if (!multiTenant && allowed.length === 1) return allowed[0]
  problems.push({ where: where(['entra', 'directory_watch', 'enabled']), message: multiTenant
    ? `entra.directory_watch reads one tenant's directory; a multi-tenant app (${tenant}) cannot use it`
    : `entra.directory_watch needs the tenant id: set entra.tenant to it, or list it alone in entra.allowed_tenants (${tenant} is a domain)`, severity: 'error' })
  return undefined
}

function transmitterSettings (raw: readonly RawTransmitter[], where: Where, problems: Problem[], file: string | undefined, allowInsecureHttp: boolean): SsfTransmitter[] {
  const out: SsfTransmitter[] = []
  raw.forEach((t, i) => {
    const at = ['ssf', 'transmitters', i]
    // A transmitter the schema refused (reported already) is left out here.
    if (typeof t?.issuer !== 'string' || typeof t.jwks_url !== 'string' || typeof t.audience !== 'string') return
    checkHttpsUrl(t.jwks_url, where([...at, 'jwks_url']), problems, allowInsecureHttp, 'the transmitter\'s jwks_url is plain http; set oidc.allow_insecure_http: true only for local development')
    if (out.some(o => o.issuer === t.issuer)) problems.push({ where: where([...at, 'issuer']), message: `transmitter ${t.issuer} is listed twice`, severity: 'error' })
    if (t.bearer_secret === undefined && t.bearer_secret_file === undefined) {
      problems.push({ where: where(at), message: 'a transmitter needs bearer_secret or bearer_secret_file: what it sends as Authorization: Bearer', severity: 'error' })
      return
    }
    const bearerSecret = readSecret(t.bearer_secret, t.bearer_secret_file, [...at, 'bearer_secret'].map(String), where, problems, file)
    if (bearerSecret !== undefined) out.push({ issuer: t.issuer, jwksUrl: t.jwks_url, audience: t.audience, bearerSecret })
  })
  return out
}

function bearerSettings (b: RawBearer, entra: EntraSettings | undefined, where: Where, problems: Problem[]): BearerSettings | undefined {
  const audiences = b.audiences ?? []
  if (audiences.length === 0) {
    if (b.issuers !== undefined || b.jwks_url !== undefined) {
      problems.push({ where: where(['bearer']), message: 'bearer.audiences is empty, so no bearer token is ever accepted: list the API audiences (e.g. api://my-api)', severity: 'error' })
    }
    return undefined
  }
  const issuers = b.issuers ?? []
  issuers.forEach((issuer, i) => {
    if (issuer.includes('{tenantid}') && (entra === undefined || entra.allowedTenants.length === 0)) {
      problems.push({ where: where(['bearer', 'issuers', i]), message: 'an issuer with {tenantid} needs oidc.provider: entra and entra.allowed_tenants (the tenants it may stand for)', severity: 'error' })
    }
    checkUrl(issuer.replace('{tenantid}', '00000000-0000-0000-0000-000000000000'), ['http:', 'https:'], where(['bearer', 'issuers', i]), problems)
  })
  if (b.jwks_url !== undefined) checkUrl(b.jwks_url, ['http:', 'https:'], where(['bearer', 'jwks_url']), problems)
  return { audiences, issuers, jwksUrl: b.jwks_url, clockToleranceMs: parseDuration(b.clock_tolerance) }
}

interface RawLimits { max_header_size: string, max_body_size: string, headers_timeout: string, request_timeout: string, keep_alive_timeout: string, max_websockets: number }

type Where = (path: ReadonlyArray<string | number>, key?: string) => string

const MIN_LIMIT_SIZE = 1024

/** The limits, and what cannot work: a size too small for any browser, a zero timeout, headers allowed longer than the whole request. */
function checkLimits (raw: RawLimits, where: Where, problems: Problem[]): GatewayConfig['limits'] {
  const limits = {
    maxHeaderSize: parseSize(raw.max_header_size),
    maxBodySize: parseSize(raw.max_body_size),
    headersTimeoutMs: parseDuration(raw.headers_timeout),
    requestTimeoutMs: parseDuration(raw.request_timeout),
    keepAliveTimeoutMs: parseDuration(raw.keep_alive_timeout),
    maxWebSockets: raw.max_websockets,
  }
  const error = (key: keyof RawLimits, message: string): void => { problems.push({ where: where(['limits', key]), message: `limits.${key} ${message}`, severity: 'error' }) }
  if (limits.maxHeaderSize < MIN_LIMIT_SIZE) error('max_header_size', 'must be at least 1KiB (a browser\'s headers and cookies alone take that)')
  if (limits.maxBodySize < MIN_LIMIT_SIZE) error('max_body_size', 'must be at least 1KiB (a back-channel logout token takes that)')
  for (const key of ['headers_timeout', 'request_timeout', 'keep_alive_timeout'] as const) {
    if (parseDuration(raw[key]) === 0) error(key, 'must be longer than 0')
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) error('headers_timeout', `(${raw.headers_timeout}) must not be longer than limits.request_timeout (${raw.request_timeout}): the headers are part of the request`)
  return limits
}

function removeAt (root: Record<string, unknown>, path: readonly string[]): void {
  let node: unknown = root
  for (const part of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return
    node = (node as Record<string, unknown>)[part]
  }
  if (node !== null && typeof node === 'object' && path.length > 0) delete (node as Record<string, unknown>)[path[path.length - 1] as string]
}

/** An http(s) URL of a service the gateway calls; plain http only with oidc.allow_insecure_http (local development). */
function checkHttpsUrl (text: string, where: string, problems: Problem[], allowInsecureHttp: boolean, plainHttpMessage: string): URL | undefined {
  const url = checkUrl(text, ['http:', 'https:'], where, problems)
  if (url?.protocol === 'http:' && !allowInsecureHttp) problems.push({ where, message: plainHttpMessage, severity: 'error' })
  return url
}

function checkUrl (text: string, protocols: string[], where: string, problems: Problem[]): URL | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    problems.push({ where, message: `"${text}" is not a URL`, severity: 'error' })
    return undefined
  }
  if (!protocols.includes(url.protocol)) {
    problems.push({ where, message: `URL scheme must be ${protocols.map(p => p.slice(0, -1)).join(' or ')}, got ${url.protocol.slice(0, -1)}`, severity: 'error' })
    return undefined
  }
  return url
}

function readSecret (value: string | undefined, file: string | undefined, path: string[], where: Where, problems: Problem[], configFile: string | undefined, required = true): string | undefined {
  const parent = path.slice(0, -1)
  const key = path[path.length - 1] as string
  if (value !== undefined && file !== undefined) {
    problems.push({ where: where(parent, `${key}_file`), message: `set either ${path.join('.')} or ${path.join('.')}_file, not both`, severity: 'error' })
    return undefined
  }
  if (file !== undefined) {
    try {
      const text = readFileSync(file, 'utf8').replace(/\r?\n$/, '')
      if (text === '') problems.push({ where: where(parent, `${key}_file`), message: `${file} is empty`, severity: 'error' })
      return text
    } catch (err) {
      problems.push({ where: where(parent, `${key}_file`), message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' })
      return undefined
    }
  }
  if (value === undefined && required) {
    problems.push({ where: configFile ?? 'config', message: `${path.join('.')} is required (or ${path.join('.')}_file; env ${envName(path)} or ${envName(path)}_FILE)`, severity: 'error' })
  }
  return value
}

function parseListen (text: string): { host: string, port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port > 65535) return undefined
  return { host: (match[1] ?? match[2]) as string, port }
}

function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '::0'
}

/** Why a file cannot be appended to (undefined when it can, or can be created). */
function checkWritableFile (path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return `${path} is a folder; give a file path (or stdout, stderr)`
    accessSync(path, constants.W_OK)
    return undefined
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') return `cannot write to ${path}: ${code ?? (err as Error).message}`
  }
  const dir = dirname(path)
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a folder`
    accessSync(dir, constants.W_OK)
    return undefined
  } catch (err) {
    return `cannot create ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? `the folder ${dir} does not exist` : (err as NodeJS.ErrnoException).code ?? (err as Error).message}`
  }
}

function deepMerge (base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(over)) {
    const b = base[k]
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && b !== null && typeof b === 'object' && !Array.isArray(b)) {
      deepMerge(b as Record<string, unknown>, v as Record<string, unknown>)
    } else {
      base[k] = v
    }
  }
  return base
}

