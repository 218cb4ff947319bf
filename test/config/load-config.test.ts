import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { ENV_KEYS, loadConfig } from '../../src/config/load.js'
import type { Problem } from '../../src/errors.js'
import { problemsOf } from '../helpers/problems.js'

const SECRET = 'x'.repeat(40)
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const MINIMAL_ENV = {
  GATEHOUSE_PUBLIC_URL: 'https://app.example.com',
  GATEHOUSE_OIDC_ISSUER: 'https://idp.example.com',
  GATEHOUSE_OIDC_CLIENT_ID: 'client',
  GATEHOUSE_OIDC_CLIENT_SECRET: 'shh',
  GATEHOUSE_SESSION_SECRET: SECRET,
  GATEHOUSE_SIGNING_KEY_FILE: '/keys/k.pem',
  GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:3000',
  GATEHOUSE_REDIS_URL: 'redis://127.0.0.1:6379',
}


function located (problems: Problem[]): string {
  return problems.map(p => `${p.where}: ${p.message}`).join('\n')
}

function file (name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

function escape (text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

t.test('the environment alone configures a container, with the documented names', async t => {
  const { config, warnings } = loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LISTEN: '[::]:9000', GATEHOUSE_OIDC_TOKEN_AUTH_METHOD: 'client_secret_post', GATEHOUSE_OIDC_SCOPES: 'openid email', GATEHOUSE_REDIS_URL: 'redis://r:6379/2', GATEHOUSE_POLICIES: '/policies' } })
  t.same(config.listen, { host: '::', port: 9000 })
  t.equal(config.publicUrl, 'https://app.example.com')
  t.equal(config.secureCookies, true)
  t.equal(config.session.cookieName, '__Host-gatehouse', '__Host- prefix on https')
  t.equal(config.oidc.tokenAuthMethod, 'client_secret_post')
  t.same(config.oidc.scopes, ['openid', 'email'])
  t.equal(config.redis.url, 'redis://r:6379/2')
  t.equal(config.policies, '/policies')
  t.equal(config.signing.keyFile, '/keys/k.pem')
  t.equal(config.upstream.url, 'http://127.0.0.1:3000')
  t.same(warnings, [])
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.oidc), 'frozen')
})

t.test('every documented environment name maps to a key', async t => {
  const names = new Set(ENV_KEYS.map(k => k.name))
  for (const name of ['GATEHOUSE_LISTEN', 'GATEHOUSE_PUBLIC_URL', 'GATEHOUSE_OIDC_ISSUER', 'GATEHOUSE_OIDC_CLIENT_ID', 'GATEHOUSE_OIDC_CLIENT_SECRET', 'GATEHOUSE_OIDC_CLIENT_SECRET_FILE', 'GATEHOUSE_OIDC_TOKEN_AUTH_METHOD', 'GATEHOUSE_OIDC_SCOPES', 'GATEHOUSE_REDIS_URL', 'GATEHOUSE_SESSION_SECRET', 'GATEHOUSE_SESSION_SECRET_FILE', 'GATEHOUSE_SIGNING_KEY_FILE', 'GATEHOUSE_UPSTREAM_URL', 'GATEHOUSE_POLICIES']) {
    t.ok(names.has(name), name)
  }
})

t.test('the environment overrides the file; secrets come from files', async t => {
  const secretFile = file('secret.txt', `${SECRET}\n`)
  const clientSecretFile = file('client.txt', 'from-file\n')
  const path = file('a.yaml', `public_url: http://localhost:8080
oidc:
  issuer: https://idp.example.com
  client_id: from-file
  client_secret_file: ${clientSecretFile}
session:
  secret_file: ${secretFile}
signing: { key_file: /k.pem }
upstream: { url: "http://app:3000", timeout: 10s }
`)
  const { config } = loadConfig({ file: path, env: { GATEHOUSE_OIDC_CLIENT_ID: 'from-env' } })
  t.equal(config.oidc.clientId, 'from-env')
  t.equal(config.oidc.clientSecret, 'from-file', 'trailing newline removed')
  t.equal(config.session.secret, SECRET)
  t.equal(config.upstream.timeoutMs, 10_000)
  t.equal(config.secureCookies, false)
  t.equal(config.session.cookieName, 'gatehouse')
})

t.test('the example config file is valid apart from the secret files it names', async t => {
  const problems = problemsOf(() => loadConfig({ file: 'config/gateway.example.yaml', env: {} }))
  t.ok(problems.length > 0)
  t.ok(problems.every(p => /cannot read \/run\/secrets\//.test(p.message)), located(problems))
})

t.test('the Entra example config file is valid apart from the secret files it names', async t => {
  const problems = problemsOf(() => loadConfig({ file: 'config/gateway.entra.example.yaml', env: {} }))
  t.ok(problems.length > 0)
  t.ok(problems.every(p => /cannot read \/run\/secrets\//.test(p.message)), located(problems))
})

t.test('schema problems are all reported together, with file:line:col', async t => {
  const path = file('bad.yaml', `public_url: https://app.example.com
oidc:
  issuer: https://idp.example.com
  client_id: c
  client_secret: s
  tokn_auth_method: basic
session:
  secret: ${SECRET}
  idle_timeout: forever
signing:
  algorithm: HS256
upstream:
  url: http://app
unknown_top: 1
`)
  const text = located(problemsOf(() => loadConfig({ file: path, env: {} })))
  t.match(text, new RegExp(`${escape(path)}:6:3: unknown key "oidc\\.tokn_auth_method"`))
  t.match(text, new RegExp(`${escape(path)}:14:1: unknown key "unknown_top"`))
  t.match(text, new RegExp(`${escape(path)}:9:17: session\\.idle_timeout has the wrong form \\(a duration`))
  t.match(text, new RegExp(`${escape(path)}:11:14: signing\\.algorithm must be one of`))
})

t.test('semantic problems are all reported together, with file:line:col', async t => {
  const path = file('bad2.yaml', `public_url: https://app.example.com/some/path
oidc:
  issuer: http://idp.example.com
  client_id: c
  client_secret: s
session:
  secret: short
redis:
  url: http://not-redis
upstream:
  url: ftp://files
`)
  const text = located(problemsOf(() => loadConfig({ file: path, env: {} })))
  t.match(text, new RegExp(`${escape(path)}:1:13: public_url must be an origin only`))
  t.match(text, new RegExp(`${escape(path)}:3:11: the issuer is plain http; set oidc\\.allow_insecure_http`))
  t.match(text, new RegExp(`${escape(path)}:7:11: the session secret must be at least 32 characters`))
  t.match(text, new RegExp(`${escape(path)}:9:8: URL scheme must be redis or rediss`))
  t.match(text, /signing\.key_file is required/)
  t.match(text, new RegExp(`${escape(path)}:11:8: URL scheme must be http or https`))
})

t.test('schema and semantic problems are reported in one go, without a misleading "required"', async t => {
  const path = file('mixed.yaml', `public_url: 42
oidc:
  isuer: https://idp.example.com
  client_id: c
  client_secret: s
session:
  secret: short
`)
  const problems = problemsOf(() => loadConfig({ file: path, env: {} }))
  const text = located(problems)
  t.match(text, new RegExp(`${escape(path)}:1:13: public_url must be string`))
  t.match(text, new RegExp(`${escape(path)}:3:3: unknown key "oidc\\.isuer"`))
  t.match(text, /oidc\.issuer is required/)
  t.match(text, new RegExp(`${escape(path)}:7:11: the session secret must be at least 32 characters`))
  t.notMatch(text, /public_url is required/, 'a present but invalid key is not also reported as missing')
})

t.test('bad environment values name the variable', async t => {
  const text = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'maybe', GATEHOUSE_OIDC_CLIENTID: 'typo' } })))
  t.match(text, /env GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: must be true or false/)
  t.match(text, /env GATEHOUSE_OIDC_CLIENTID: unknown setting \(no config key has this name\) \(did you mean GATEHOUSE_OIDC_CLIENT_ID\?\)/)
  const far = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_SOMETHING_ELSE_ENTIRELY: 'x' } })))
  t.match(far, /env GATEHOUSE_SOMETHING_ELSE_ENTIRELY: unknown setting \(no config key has this name\)$/m, 'no suggestion when nothing is close')
  const text2 = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_UPSTREAM_TIMEOUT: '30' } })))
  t.match(text2, /env GATEHOUSE_UPSTREAM_TIMEOUT: upstream\.timeout has the wrong form/)
  const text3 = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LISTEN: 'nowhere' } })))
  t.match(text3, /env GATEHOUSE_LISTEN: listen must be host:port/)
})

t.test('Kubernetes service-link variables of Services named gatehouse are ignored, exactly those', async t => {
  const links = {
    GATEHOUSE_SERVICE_HOST: '10.96.12.7',
    GATEHOUSE_SERVICE_PORT: '8080',
    GATEHOUSE_SERVICE_PORT_HTTP: '8080',
    GATEHOUSE_PORT: 'tcp://10.96.12.7:8080',
    GATEHOUSE_PORT_8080_TCP: 'tcp://10.96.12.7:8080',
    GATEHOUSE_PORT_8080_TCP_PROTO: 'tcp',
    GATEHOUSE_PORT_8080_TCP_PORT: '8080',
    GATEHOUSE_PORT_8080_TCP_ADDR: '10.96.12.7',
    GATEHOUSE_REDIS_SERVICE_HOST: 'fd00::12',
    GATEHOUSE_REDIS_SERVICE_PORT_REDIS: '6379',
    GATEHOUSE_REDIS_PORT: 'tcp://[fd00::12]:6379',
    GATEHOUSE_REDIS_PORT_6379_TCP_ADDR: 'fd00::12',
    GATEHOUSE_METRICS_PORT_9464_UDP_PROTO: 'udp',
  }
  const loaded = loadConfig({ env: { ...MINIMAL_ENV, ...links } })
  t.same([...loaded.ignoredEnv].sort(), Object.keys(links).sort(), 'each named for the start-up debug line')
  t.equal(loaded.config.publicUrl, 'https://app.example.com')
  // Names of those forms with values of another form, and near misses, are still unknown settings.
  const near = {
    GATEHOUSE_SERVICE_HOST: 'gatehouse.default.svc',
    GATEHOUSE_PORT: '8080',
    GATEHOUSE_PORT_6379_TCP: 'tcp://fd00::12:6379',
    GATEHOUSE_PORT_8080_TCP_PROTO: 'http',
    GATEHOUSE_PORT_8080_HTTP: 'tcp://10.96.12.7:8080',
    GATEHOUSE_SERVICE_HOSTS: '10.96.12.7',
    GATEHOUSE_SERVIC_PORT: '8080',
  }
  const text = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, ...near } })))
  for (const name of Object.keys(near)) t.match(text, new RegExp(`env ${name}: unknown setting`), name)
})

t.test('required settings name both the key and the variable', async t => {
  const text = problemsOf(() => loadConfig({ env: {} })).map(p => p.message).join('\n')
  for (const [key, env] of [['public_url', 'GATEHOUSE_PUBLIC_URL'], ['oidc.issuer', 'GATEHOUSE_OIDC_ISSUER'], ['oidc.client_id', 'GATEHOUSE_OIDC_CLIENT_ID'], ['oidc.client_secret', 'GATEHOUSE_OIDC_CLIENT_SECRET'], ['session.secret', 'GATEHOUSE_SESSION_SECRET'], ['signing.key_file', 'GATEHOUSE_SIGNING_KEY_FILE'], ['upstream.url', 'GATEHOUSE_UPSTREAM_URL']] as const) {
    t.match(text, new RegExp(`${escape(key)} is required[^\\n]*${env}`), key)
  }
})

t.test('YAML syntax errors, duplicate keys and non-mappings are located', async t => {
  const dup = file('dup.yaml', 'public_url: https://a.example\npublic_url: https://b.example\n')
  t.match(problemsOf(() => loadConfig({ file: dup, env: {} }))[0], { where: `${dup}:2:1` })
  const broken = file('broken.yaml', 'oidc:\n  issuer: [unclosed\n')
  t.match(problemsOf(() => loadConfig({ file: broken, env: {} }))[0]?.where, new RegExp(`^${escape(broken)}:\\d+:\\d+$`))
  const scalar = file('scalar.yaml', 'just a string\n')
  t.match(problemsOf(() => loadConfig({ file: scalar, env: {} }))[0], { where: `${scalar}:1:1`, message: /must be a mapping/ })
  t.match(problemsOf(() => loadConfig({ file: join(dir, 'missing.yaml'), env: {} }))[0], { message: /cannot read the config file/ })
})

t.test('a secret and its file together is an error; so is an empty secret file', async t => {
  const empty = file('empty.txt', '')
  t.match(located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_OIDC_CLIENT_SECRET_FILE: empty } }))), /env GATEHOUSE_OIDC_CLIENT_SECRET_FILE: set either oidc\.client_secret or oidc\.client_secret_file, not both/)
  const { GATEHOUSE_OIDC_CLIENT_SECRET: _unused, ...withoutSecret } = MINIMAL_ENV
  t.match(located(problemsOf(() => loadConfig({ env: { ...withoutSecret, GATEHOUSE_OIDC_CLIENT_SECRET_FILE: empty } }))), /is empty/)
})

t.test('without Redis there is a warning, not an error', async t => {
  const { GATEHOUSE_REDIS_URL: _unused, ...withoutRedis } = MINIMAL_ENV
  const { warnings } = loadConfig({ env: withoutRedis })
  t.equal(warnings.length, 1)
  t.match(warnings[0]?.message, /in memory/)
})

t.test('Entra ID: the issuer is derived from the tenant', async t => {
  const { OIDC_ISSUER: _drop, ...rest } = Object.fromEntries(Object.entries(MINIMAL_ENV).map(([k, v]) => [k.replace('GATEHOUSE_', ''), v]))
  const env = Object.fromEntries(Object.entries(rest).map(([k, v]) => [`GATEHOUSE_${k}`, v]))
  const single = loadConfig({ env: { ...env, GATEHOUSE_OIDC_PROVIDER: 'entra', GATEHOUSE_ENTRA_TENANT: 'AAAAAAAA-0000-4000-8000-000000000001', GATEHOUSE_ENTRA_GROUP_NAMES: 'A0000000-0000-4000-8000-0000000000A1=admins, a0000000-0000-4000-8000-0000000000a2=auditors' } }).config
  t.equal(single.oidc.issuer, 'https://login.microsoftonline.com/aaaaaaaa-0000-4000-8000-000000000001/v2.0')
  t.same(single.entra?.allowedTenants, ['aaaaaaaa-0000-4000-8000-000000000001'], 'a single tenant named by id allows that tenant')
  t.same(single.entra?.groupNames, { 'a0000000-0000-4000-8000-0000000000a1': 'admins', 'a0000000-0000-4000-8000-0000000000a2': 'auditors' }, 'group ids are folded to lower case')
  t.equal(single.entra?.graphUrl, 'https://graph.microsoft.com/v1.0')

  const national = loadConfig({ env: { ...env, GATEHOUSE_OIDC_PROVIDER: 'entra', GATEHOUSE_ENTRA_TENANT: 'contoso.onmicrosoft.us', GATEHOUSE_ENTRA_AUTHORITY_HOST: 'https://login.microsoftonline.us', GATEHOUSE_ENTRA_GRAPH_URL: 'https://graph.microsoft.us/v1.0/' } }).config
  t.equal(national.oidc.issuer, 'https://login.microsoftonline.us/contoso.onmicrosoft.us/v2.0')
  t.equal(national.entra?.graphUrl, 'https://graph.microsoft.us/v1.0')
  t.same(national.entra?.allowedTenants, [], 'a tenant named by domain is checked by issuer')

  const multi = loadConfig({ env: { ...env, GATEHOUSE_OIDC_PROVIDER: 'entra', GATEHOUSE_ENTRA_TENANT: 'organizations', GATEHOUSE_ENTRA_ALLOWED_TENANTS: 'aaaaaaaa-0000-4000-8000-000000000001 bbbbbbbb-0000-4000-8000-000000000002', GATEHOUSE_BEARER_AUDIENCES: 'api://x', GATEHOUSE_BEARER_ISSUERS: 'https://login.microsoftonline.com/{tenantid}/v2.0,https://sts.windows.net/{tenantid}/' } }).config
  t.equal(multi.entra?.multiTenant, true)
  t.same(multi.bearer?.issuers, ['https://login.microsoftonline.com/{tenantid}/v2.0', 'https://sts.windows.net/{tenantid}/'])
})

t.test('Entra ID and bearer mistakes are all reported', async t => {
  const text = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_OIDC_PROVIDER: 'entra', GATEHOUSE_ENTRA_TENANT: 'organizations', GATEHOUSE_ENTRA_GRAPH_URL: 'http://graph.local', GATEHOUSE_ENTRA_GROUP_NAMES: 'not-a-guid=admins', GATEHOUSE_BEARER_ISSUERS: 'https://sts.windows.net/{tenantid}/' } })))
  t.match(text, /a multi-tenant app \(organizations\) accepts any tenant's users unless told which: list the accepted tenant ids in entra\.allowed_tenants/)
  t.match(text, /with oidc\.provider: entra the issuer is derived from entra\.tenant; remove oidc\.issuer/)
  t.match(text, /the Graph URL is plain http/)
  t.match(text, /entra\.group_names/)
  t.match(text, /bearer\.audiences is empty, so no bearer token is ever accepted/)

  const pairs = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_ENTRA_GROUP_NAMES: 'oops' } })))
  t.match(pairs, /env GATEHOUSE_ENTRA_GROUP_NAMES: must be key=value pairs/)
  const stray = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_ENTRA_TENANT: 'contoso.com' } })))
  t.match(stray, /the entra section is used only with oidc\.provider: entra/)
  const template = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_BEARER_AUDIENCES: 'api://x', GATEHOUSE_BEARER_ISSUERS: 'https://sts.windows.net/{tenantid}/' } })))
  t.match(template, /an issuer with \{tenantid\} needs oidc\.provider: entra and entra\.allowed_tenants/)
  const missing = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_OIDC_ISSUER: undefined, GATEHOUSE_OIDC_PROVIDER: 'entra' } })))
  t.match(missing, /entra\.tenant is required with oidc\.provider: entra/)
})

t.test('entra.directory_watch: off by default; one tenant, known by id; an interval of at least 10s', async t => {
  const entra = { ...MINIMAL_ENV, GATEHOUSE_OIDC_ISSUER: undefined, GATEHOUSE_OIDC_PROVIDER: 'entra' }
  const tenant = 'AAAAAAAA-0000-4000-8000-000000000001'
  t.equal(loadConfig({ env: { ...entra, GATEHOUSE_ENTRA_TENANT: tenant } }).config.entra?.directoryWatch, undefined, 'off by default')
  const on = { GATEHOUSE_ENTRA_DIRECTORY_WATCH_ENABLED: 'true' }
  t.same(loadConfig({ env: { ...entra, ...on, GATEHOUSE_ENTRA_TENANT: tenant } }).config.entra?.directoryWatch, { tenant: tenant.toLowerCase(), intervalMs: 60_000 }, 'the schema\'s interval, the tenant id')
  t.same(loadConfig({ env: { ...entra, ...on, GATEHOUSE_ENTRA_TENANT: 'contoso.com', GATEHOUSE_ENTRA_ALLOWED_TENANTS: tenant, GATEHOUSE_ENTRA_DIRECTORY_WATCH_INTERVAL: '5m' } }).config.entra?.directoryWatch, { tenant: tenant.toLowerCase(), intervalMs: 300_000 }, 'a domain with its one allowed tenant')
  const errors = (env: Record<string, string>): string => located(problemsOf(() => loadConfig({ env: { ...entra, ...on, ...env } })))
  t.match(errors({ GATEHOUSE_ENTRA_TENANT: 'contoso.com' }), 'env GATEHOUSE_ENTRA_DIRECTORY_WATCH_ENABLED: entra.directory_watch needs the tenant id')
  t.match(errors({ GATEHOUSE_ENTRA_TENANT: 'organizations', GATEHOUSE_ENTRA_ALLOWED_TENANTS: tenant }), 'a multi-tenant app (organizations) cannot use it')
  t.match(errors({ GATEHOUSE_ENTRA_TENANT: tenant, GATEHOUSE_ENTRA_DIRECTORY_WATCH_INTERVAL: '2s' }), 'env GATEHOUSE_ENTRA_DIRECTORY_WATCH_INTERVAL: entra.directory_watch.interval must be at least 10s')
  t.match(errors({ GATEHOUSE_ENTRA_TENANT: tenant, GATEHOUSE_ENTRA_DIRECTORY_WATCH_ENABLED: 'sometimes' }), 'env GATEHOUSE_ENTRA_DIRECTORY_WATCH_ENABLED: must be true or false')
})

t.test('admin.listen: loopback 9464 by default, host:port, or off; never the public listener\'s address', async t => {
  t.same(loadConfig({ env: MINIMAL_ENV }).config.admin.listen, { host: '127.0.0.1', port: 9464 }, 'default')
  t.same(loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_ADMIN_LISTEN: '[::]:9100' } }).config.admin.listen, { host: '::', port: 9100 })
  t.equal(loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_ADMIN_LISTEN: 'off' } }).config.admin.listen, undefined, 'off')
  const errors = (env: Record<string, string>): string => located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, ...env } })).filter(p => p.severity === 'error'))
  t.equal(errors({ GATEHOUSE_ADMIN_LISTEN: 'metrics' }), 'env GATEHOUSE_ADMIN_LISTEN: admin.listen must be host:port (e.g. 127.0.0.1:9464 or [::]:9464) or off, got "metrics"')
  t.equal(errors({ GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:70000' }), 'env GATEHOUSE_ADMIN_LISTEN: admin.listen must be host:port (e.g. 127.0.0.1:9464 or [::]:9464) or off, got "127.0.0.1:70000"')
  t.match(errors({ GATEHOUSE_LISTEN: '0.0.0.0:9000', GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:9000' }), /^env GATEHOUSE_ADMIN_LISTEN: admin\.listen \(127\.0\.0\.1:9000\) must not be the public listener's address \(0\.0\.0\.0:9000\)/)
  t.match(errors({ GATEHOUSE_LISTEN: '127.0.0.1:9464' }), /admin\.listen \(127\.0\.0\.1:9464\) must not be the public listener's address/, 'also when admin.listen is the default')
  t.same(loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LISTEN: '10.0.0.1:9000', GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:9000' } }).config.admin.listen, { host: '127.0.0.1', port: 9000 }, 'the same port on another address is fine')
  const path = file('admin.yaml', 'admin:\n  listen: nope\n')
  t.match(located(problemsOf(() => loadConfig({ file: path, env: MINIMAL_ENV }))), new RegExp(`${escape(path)}:2:11: admin.listen must be host:port`), 'located in the file')
})

t.test('limits: defaults, sizes and whole numbers from the environment, and what cannot work', async t => {
  const { config } = loadConfig({ env: MINIMAL_ENV })
  t.same(config.limits, { maxHeaderSize: 16384, maxBodySize: 65536, headersTimeoutMs: 30_000, requestTimeoutMs: 300_000, keepAliveTimeoutMs: 75_000, maxWebSockets: 10000 })
  const set = loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LIMITS_MAX_HEADER_SIZE: '32KiB', GATEHOUSE_LIMITS_MAX_BODY_SIZE: '1MiB', GATEHOUSE_LIMITS_MAX_WEBSOCKETS: '250', GATEHOUSE_LIMITS_HEADERS_TIMEOUT: '10s' } }).config.limits
  t.equal(set.maxHeaderSize, 32 * 1024)
  t.equal(set.maxBodySize, 1024 * 1024)
  t.equal(set.maxWebSockets, 250)
  t.equal(set.headersTimeoutMs, 10_000)

  t.match(located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LIMITS_MAX_WEBSOCKETS: 'many' } }))), /env GATEHOUSE_LIMITS_MAX_WEBSOCKETS: must be a whole number, got "many"/)
  const env = located(problemsOf(() => loadConfig({ env: { ...MINIMAL_ENV, GATEHOUSE_LIMITS_MAX_HEADER_SIZE: '16k' } })))
  t.match(env, /env GATEHOUSE_LIMITS_MAX_HEADER_SIZE: limits\.max_header_size has the wrong form \(a size such as 512B, 16KiB, 1MiB\)/)

  const path = file('limits.yaml', `public_url: https://app.example.com
oidc: { issuer: https://idp.example.com, client_id: c, client_secret: s }
session: { secret: ${SECRET} }
signing: { key_file: /k.pem }
upstream: { url: http://app }
redis: { url: redis://r }
limits:
  max_header_size: 512B
  max_body_size: 10B
  headers_timeout: 10m
  request_timeout: 1m
  keep_alive_timeout: 0s
  max_websockets: 0
`)
  const text = located(problemsOf(() => loadConfig({ file: path, env: {} })))
  t.match(text, new RegExp(`${escape(path)}:8:20: limits\\.max_header_size must be at least 1KiB`))
  t.match(text, new RegExp(`${escape(path)}:9:18: limits\\.max_body_size must be at least 1KiB`))
  t.match(text, new RegExp(`${escape(path)}:10:20: limits\\.headers_timeout \\(10m\\) must not be longer than limits\\.request_timeout \\(1m\\)`))
  t.match(text, new RegExp(`${escape(path)}:12:23: limits\\.keep_alive_timeout must be longer than 0`))
  t.match(text, new RegExp(`${escape(path)}:13:19: limits\\.max_websockets must be >= 1`))
})

t.test('Shared Signals transmitters: bearer secrets from files, every problem located', async t => {
  const secretFile = file('ssf-secret.txt', 'pushed-secret\n')
  const good = file('ssf.yaml', `ssf:
  transmitters:
    - issuer: https://signals.example.com/
      jwks_url: https://signals.example.com/jwks
      audience: https://app.example.com/ssf
      bearer_secret_file: ${secretFile}
`)
  const { config } = loadConfig({ file: good, env: MINIMAL_ENV })
  t.same(config.ssf.transmitters, [{ issuer: 'https://signals.example.com/', jwksUrl: 'https://signals.example.com/jwks', audience: 'https://app.example.com/ssf', bearerSecret: 'pushed-secret' }])
  t.same(loadConfig({ env: MINIMAL_ENV }).config.ssf.transmitters, [], 'none by default')

  const bad = file('ssf-bad.yaml', `ssf:
  transmitters:
    - issuer: https://signals.example.com/
      jwks_url: http://signals.example.com/jwks
      audience: a
      bearer_secret: s
    - issuer: https://signals.example.com/
      jwks_url: https://signals.example.com/jwks
      audience: a
    - issuer: https://other.example.com/
      jwks_url: https://other.example.com/jwks
      audience: a
      bearer_secret: s
      bearer_secret_file: ${secretFile}
    - issuer: https://third.example.com/
      audience: a
      bearer_secret: s
`)
  const text = located(problemsOf(() => loadConfig({ file: bad, env: MINIMAL_ENV })))
  t.match(text, new RegExp(`${escape(bad)}:4:17: the transmitter's jwks_url is plain http`))
  t.match(text, new RegExp(`${escape(bad)}:7:15: transmitter https://signals\\.example\\.com/ is listed twice`))
  t.match(text, new RegExp(`${escape(bad)}:7:\\d+: a transmitter needs bearer_secret or bearer_secret_file`))
  t.match(text, new RegExp(`${escape(bad)}:14:\\d+: set either ssf\\.transmitters\\.2\\.bearer_secret or ssf\\.transmitters\\.2\\.bearer_secret_file, not both`))
  t.match(text, /jwks_url/, 'the transmitter without jwks_url is named')
})
