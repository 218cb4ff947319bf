import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { ENV_KEYS } from '../../src/config/load.js'

interface Service {
  build?: { context: string, target: string }
  image?: string
  command?: string[]
  environment?: Record<string, string>
  ports?: string[]
  volumes?: string[]
  network_mode?: string
  depends_on?: Record<string, { condition: string }> | string[]
  healthcheck?: { test: string[] }
  read_only?: boolean
}

const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service>, volumes: Record<string, unknown> }
const dockerfile = readFileSync('Dockerfile', 'utf8')
const services = compose.services

t.test('the compose file has the gateway, Redis, the development IdP and the sample app', async t => {
  t.same(Object.keys(services).sort(), ['app', 'gatehouse', 'idp', 'keygen', 'redis'])
  for (const [name, svc] of Object.entries(services)) {
    if (svc.build !== undefined) t.match(dockerfile, new RegExp(`^FROM .* AS ${svc.build.target}$`, 'm'), `${name}: build target ${svc.build.target} exists`)
  }
})

t.test('every environment name the gateway is given is one the config reads', async t => {
  const known = new Set(ENV_KEYS.map(k => k.name))
  const env = services.gatehouse?.environment ?? {}
  t.ok(Object.keys(env).length > 5)
  for (const name of Object.keys(env)) t.ok(known.has(name), `${name} is a config key`)
})

t.test('the IdP, the sample app and the gateway agree with each other', async t => {
  const idp = services.idp?.environment ?? {}
  const gw = services.gatehouse?.environment ?? {}
  const app = services.app?.environment ?? {}
  t.equal(idp.DEVIDP_CLIENT_ID, gw.GATEHOUSE_OIDC_CLIENT_ID)
  t.equal(idp.DEVIDP_CLIENT_SECRET, gw.GATEHOUSE_OIDC_CLIENT_SECRET)
  t.equal(idp.DEVIDP_ISSUER, gw.GATEHOUSE_OIDC_ISSUER)
  t.equal(idp.DEVIDP_REDIRECT_URI, `${gw.GATEHOUSE_PUBLIC_URL ?? ''}/.gatehouse/callback`)
  t.equal(idp.DEVIDP_POST_LOGOUT_REDIRECT_URI, `${gw.GATEHOUSE_PUBLIC_URL ?? ''}/.gatehouse/signed-out`)
  t.equal(app.GATEWAY_URL, gw.GATEHOUSE_PUBLIC_URL)
  t.equal(gw.GATEHOUSE_UPSTREAM_URL, `http://127.0.0.1:${app.LEGACY_APP_PORT ?? ''}`)
  t.ok((gw.GATEHOUSE_SESSION_SECRET ?? '').length >= 32, 'session secret long enough to start')
  // Programs read the names they are given.
  const devidpMain = readFileSync('src/devidp/main.ts', 'utf8')
  for (const name of Object.keys(idp)) t.ok(devidpMain.includes(`'${name}'`), `dev IdP reads ${name}`)
  const appMain = readFileSync('src/demo/legacy-main.ts', 'utf8')
  for (const name of Object.keys(app)) t.ok(appMain.includes(`process.env.${name}`), `sample app reads ${name}`)
})

t.test('commands point at programs that exist', async t => {
  for (const [name, svc] of Object.entries(services)) {
    const script = svc.command?.find(c => c.startsWith('dist/'))
    if (script !== undefined) t.ok(existsSync(script.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts')), `${name}: ${script} is built from src/`)
  }
  t.same(services.keygen?.command?.slice(0, 1), ['keygen'])
})

t.test('ports, volumes, health and start order', async t => {
  t.ok(services.idp?.ports?.includes('8080:8080'), 'gateway port published')
  t.ok(services.idp?.ports?.includes('9000:9000'), 'IdP port published')
  t.equal(services.gatehouse?.network_mode, 'service:idp', 'one network namespace, so localhost:9000 is the issuer for browser and gateway alike')
  t.equal(services.app?.network_mode, 'service:idp')
  t.ok(services.gatehouse?.volumes?.includes('./policies:/etc/gatehouse/policies:ro'), 'policies mounted read-only')
  t.equal(services.gatehouse?.environment?.GATEHOUSE_POLICIES, '/etc/gatehouse/policies/demo')
  t.ok(existsSync('policies/demo'), 'the mounted policy folder exists in the repo')
  t.ok(services.gatehouse?.volumes?.includes('keys:/keys:ro'))
  t.ok(services.keygen?.volumes?.includes('keys:/keys'))
  t.ok('keys' in compose.volumes)
  t.equal(services.gatehouse?.read_only, true, 'read-only root filesystem')
  t.same(services.redis?.healthcheck?.test, ['CMD', 'redis-cli', 'ping'])
  t.match(services.gatehouse?.depends_on, { redis: { condition: 'service_healthy' }, keygen: { condition: 'service_completed_successfully' } })
  t.equal(services.gatehouse?.environment?.GATEHOUSE_REDIS_URL, 'redis://redis:6379')
})
