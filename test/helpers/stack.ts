import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { loadConfig } from '../../src/config/load.js'
import { startLegacyApp, type LegacyApp } from '../../src/demo/legacy-app.js'
import { DEMO_USERS, startDevIdp, type DevClient, type DevIdp, type DevUser } from '../../src/devidp/provider.js'
import type { DevResource } from '../../src/devidp/dev-idp-options.js'
import { createLogger } from '../../src/log/logger.js'
import type { Gateway } from '../../src/server/gateway.js'
import { startGateway } from '../../src/server/start.js'
import { Browser, signInThroughIdp, type Page } from './browserless.js'
import { FaultProxy } from './fault-proxy.js'
import { LogCapture } from './log-capture.js'
import { freePort } from './ports.js'
import { startEntraStandin, type EntraApp, type EntraStandin, type EntraUser } from './entra-standin.js'
import { startGraphStandin, type GraphStandin } from './graph-standin.js'

export const SHARED_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'

export interface StackOptions {
  /** 'shared' (default): the machine's Redis with a key prefix of this test's own; a URL; or 'memory'. */
  redis?: 'shared' | 'memory' | string
  /** Extra GATEHOUSE_* settings. */
  env?: Record<string, string>
  users?: DevUser[]
  /** Start the upstream app (default true). */
  upstream?: boolean
  /** The clock the gateway's session lifetimes and refresh follow (default Date.now). */
  clock?: () => number
  /** Access token lifetime at the IdP. */
  accessTokenTtlSeconds?: number
  /** Register the gateway's back-channel logout endpoint at the IdP. */
  backchannel?: boolean
  /** Sign in with the Entra ID stand-in (and its Graph stand-in) instead of the generic dev IdP. */
  entra?: { tenant: string, users: EntraUser[], apps?: EntraApp[], graphPageSize?: number, deltaPageSize?: number }
  /** Start the admin listener (metrics, health) on a free loopback port; off by default. */
  admin?: boolean
  /** The URL people use, when a proxy in front is how they reach the gateway (default: the gateway's own URL). */
  publicUrl?: string
  /** More clients registered at the IdP besides the gateway (other applications). */
  extraClients?: DevClient[]
  /** Reach the IdP through a FaultProxy (its issuer is the proxy's URL), so a test can take it away and bring it back. */
  idpProxy?: boolean
  /** The gateway's log level (default debug) and how many of its latest lines to keep (default all). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error'
  keepLogLines?: number
  /** A config file (YAML text) under the GATEHOUSE_* settings, for what the environment cannot say (lists of objects). */
  configYaml?: string
  /** The address the gateway binds (default 127.0.0.1; `[::]` for dual stack); the stack's URL stays on 127.0.0.1. */
  listenHost?: string
  /** The gateway serves HTTPS itself (set tls.cert_file and tls.key_file in `env`): its URL is https. */
  https?: boolean
  /** APIs the dev IdP issues tokens for (resource indicators, token exchange). */
  resources?: DevResource[]
}

export interface Stack {
  /** The gateway's own address. */
  url: string
  /** The admin listener's origin (with `admin: true`). */
  adminUrl: string | undefined
  /** The URL people use: `url`, or the proxy in front given as `publicUrl`. */
  publicUrl: string
  idp: DevIdp
  /** In front of the IdP, with `idpProxy: true`. */
  idpProxy: FaultProxy | undefined
  app: LegacyApp
  gateway: Gateway
  logs: LogCapture
  /** With the entra option: the Entra and Graph stand-ins. */
  entra: EntraStandin | undefined
  graph: GraphStandin | undefined
  keyPrefix: string
  /** Direct Redis connection on the same server, for assertions (undefined with memory sessions and with redis+sentinel:// or redis+cluster:// URLs). */
  redis: Redis | undefined
  clientId: string
  clientSecret: string
  /** A fresh cookie jar signed in as `user` (password `<user>-pass` for demo users); returns the landing page. */
  signIn (user: string, path?: string, browser?: Browser): Promise<{ browser: Browser, page: Page }>
  sessionCookie (browser: Browser): string | undefined
  /** The Redis key of the session a cookie value names. */
  sessionKey (cookieValue: string): string
  /** The settings this gateway was started with (to start replicas on the same Redis). */
  env: Record<string, string>
  /** Another gateway on the same Redis, IdP and upstream (same public URL, its own port); stopped by t.teardown. */
  startReplica (env?: Record<string, string>): Promise<{ url: string, gateway: Gateway, logs: LogCapture }>
  close (): Promise<void>
}

interface Teardown { teardown (fn: () => unknown): void }

/**
 * Starts a real OpenID Provider, a real upstream app and the gateway, all on
 * loopback with free ports; everything is stopped by t.teardown.
 */
export async function startStack (t: Teardown, opts: StackOptions = {}): Promise<Stack> {
  // A port found free can be taken by another test process before the gateway binds it: try again with another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startStackOnce(t, opts)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 3) throw err
    }
  }
}

async function startStackOnce (t: Teardown, opts: StackOptions): Promise<Stack> {
  const users = opts.users ?? DEMO_USERS
  const port = await freePort()
  const url = `${opts.https === true ? 'https' : 'http'}://127.0.0.1:${port}`
  const publicUrl = opts.publicUrl ?? url
  const clientId = 'gatehouse-test'
  const clientSecret = randomBytes(16).toString('hex')
  const client = {
    client_id: clientId,
    client_secret: clientSecret,
    redirect_uris: [`${publicUrl}/.gatehouse/callback`],
    post_logout_redirect_uris: [`${publicUrl}/.gatehouse/signed-out`],
    ...(opts.backchannel === true ? { backchannel_logout_uri: `${publicUrl}/.gatehouse/backchannel-logout`, backchannel_logout_session_required: true } : {}),
  }
  const idpProxy = opts.idpProxy === true ? await FaultProxy.start(t) : undefined
  const idpPort = idpProxy === undefined ? undefined : await freePort()
  // The gateway is an application too: its client credentials get it a token for Graph (the directory watch).
  const gatewayApp: EntraApp = { clientId, clientSecret, tid: opts.entra?.tenant ?? '', oid: 'e0000000-0000-4000-8000-0000000gate', roles: ['User.Read.All', 'GroupMember.Read.All'] }
  const entra = opts.entra === undefined ? undefined : await startEntraStandin(t, { users: opts.entra.users, clients: [client], apps: [...(opts.entra.apps ?? []), gatewayApp], ...(opts.accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds: opts.accessTokenTtlSeconds }) })
  const graph = entra === undefined ? undefined : await startGraphStandin(t, entra.graphTokens, opts.entra?.graphPageSize, { users: opts.entra?.users ?? [], appTokens: entra.appTokens, pageSize: opts.entra?.deltaPageSize ?? 100 })
  const idp = entra?.idp ?? await startDevIdp({
    host: 'localhost',
    ...(idpProxy === undefined ? {} : { port: idpPort, issuer: idpProxy.url }),
    users,
    clients: [client, ...(opts.extraClients ?? [])],
    ...(opts.accessTokenTtlSeconds === undefined ? {} : { accessTokenTtlSeconds: opts.accessTokenTtlSeconds }),
    ...(opts.resources === undefined ? {} : { resources: opts.resources }),
  })
  if (idpProxy !== undefined && idpPort !== undefined) idpProxy.target = { host: 'localhost', port: idpPort }
  const app = await startLegacyApp({ gatewayUrl: publicUrl })
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-test-'))
  // Until the gateway is up, these are cleaned up here (a gateway that refuses to start leaves nothing behind).
  const abandon = async (): Promise<void> => {
    await Promise.allSettled([app.close(), idp.close()])
    rmSync(dir, { recursive: true, force: true })
  }
  const keyFile = join(dir, 'signing.pem')
  writeFileSync(keyFile, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))

  const keyPrefix = `gatehouse-test-${randomBytes(6).toString('hex')}:`
  const redisMode = opts.redis ?? 'shared'
  const redisUrl = redisMode === 'memory' ? undefined : redisMode === 'shared' ? SHARED_REDIS_URL : redisMode
  const env: Record<string, string> = {
    GATEHOUSE_LISTEN: `${opts.listenHost ?? '127.0.0.1'}:${port}`,
    GATEHOUSE_PUBLIC_URL: publicUrl,
    ...(entra === undefined || graph === undefined
      ? { GATEHOUSE_OIDC_ISSUER: idp.issuer }
      : { GATEHOUSE_OIDC_PROVIDER: 'entra', GATEHOUSE_ENTRA_TENANT: opts.entra?.tenant ?? '', GATEHOUSE_ENTRA_AUTHORITY_HOST: entra.url, GATEHOUSE_ENTRA_GRAPH_URL: graph.url }),
    GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: clientId,
    GATEHOUSE_OIDC_CLIENT_SECRET: clientSecret,
    GATEHOUSE_SESSION_SECRET: randomBytes(32).toString('hex'),
    GATEHOUSE_SIGNING_KEY_FILE: keyFile,
    GATEHOUSE_UPSTREAM_URL: app.url,
    GATEHOUSE_REDIS_KEY_PREFIX: keyPrefix,
    GATEHOUSE_LOG_LEVEL: 'info',
    // Port 0: the system picks a free one, so stacks never compete for the default 9464.
    GATEHOUSE_ADMIN_LISTEN: opts.admin === true ? '127.0.0.1:0' : 'off',
    ...(redisUrl === undefined ? {} : { GATEHOUSE_REDIS_URL: redisUrl }),
    ...opts.env,
  }
  const configFile = opts.configYaml === undefined ? undefined : join(dir, 'gatehouse.yaml')
  if (configFile !== undefined) writeFileSync(configFile, opts.configYaml ?? '')
  const load = (settings: Record<string, string>): ReturnType<typeof loadConfig> => loadConfig({ env: settings, ...(configFile === undefined ? {} : { file: configFile }) })
  const logs = new LogCapture(opts.keepLogLines)
  const log = createLogger({ level: opts.logLevel ?? 'debug', destination: logs })
  let gateway: Gateway
  try {
    gateway = (await startGateway({ loaded: load(env), log, ...(opts.clock === undefined ? {} : { clock: opts.clock }) })).gateway
  } catch (err) {
    await abandon()
    throw err
  }
  await gateway.oidc.whenReady()
  // A plain client only understands redis:// and rediss://; Sentinel and Cluster tests assert with redis-cli.
  const redis = redisUrl === undefined || !/^rediss?:\/\//.test(redisUrl) ? undefined : new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: 1 })
  // Tests that stop Redis make this assertion client fail too; that is expected.
  redis?.on('error', () => {})
  if (opts.upstream === false) await app.close()

  const admin = gateway.adminAddress
  const stack: Stack = {
    url,
    adminUrl: admin === undefined ? undefined : `http://${admin.host}:${admin.port}`,
    publicUrl,
    idp,
    idpProxy,
    app,
    gateway,
    logs,
    entra,
    graph,
    keyPrefix,
    redis,
    clientId,
    clientSecret,
    async signIn (user, path = '/', browser = new Browser()) {
      const u = users.find(x => x.id === user) ?? opts.entra?.users.find(x => x.id === user)
      const page = await signInThroughIdp(browser, `${publicUrl}${path}`, user, u?.password ?? `${user}-pass`)
      return { browser, page }
    },
    sessionCookie (browser) {
      return browser.cookies(publicUrl).get(gateway.cookies.session)
    },
    sessionKey (cookieValue) {
      return `${keyPrefix}session:{${sessionIdOf(cookieValue)}}`
    },
    env,
    async startReplica (extra = {}) {
      let replicaPort = 0
      const replicaLogs = new LogCapture()
      let started: Awaited<ReturnType<typeof startGateway>> | undefined
      for (let attempt = 1; started === undefined; attempt++) {
        replicaPort = await freePort()
        try {
          started = await startGateway({ loaded: load({ ...env, GATEHOUSE_LISTEN: `127.0.0.1:${replicaPort}`, ...extra }), log: createLogger({ level: 'debug', destination: replicaLogs }) })
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt === 3) throw err
        }
      }
      t.teardown(() => started.gateway.close())
      await started.gateway.oidc.whenReady()
      // Like a load balancer that waits for readiness: a replica gets requests once its session store is connected.
      if (started.gateway.store.kind === 'redis') await started.gateway.store.backend.connected(10_000)
      return { url: `http://127.0.0.1:${replicaPort}`, gateway: started.gateway, logs: replicaLogs }
    },
    async close () {
      await gateway.close()
      await Promise.allSettled([app.close(), idp.close()])
      if (redis !== undefined) {
        try {
          const keys = await redis.keys(`${keyPrefix}*`)
          if (keys.length > 0) await redis.del(...keys)
        } catch { /* a test stopped this Redis: nothing to clean */ }
        redis.disconnect()
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
  t.teardown(() => stack.close())
  // The first request must not race the gateway's own connection to Redis (it would get 503, as it should).
  await gateway.store.backend.connected(10_000)
  return stack
}

/** The session id inside a signed @fastify/session cookie value (`s:<id>.<sig>`, URL-encoded). */
export function sessionIdOf (cookieValue: string): string {
  const decoded = decodeURIComponent(cookieValue)
  return decoded.slice(decoded.startsWith('s:') ? 2 : 0, decoded.lastIndexOf('.'))
}
