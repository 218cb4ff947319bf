import { generateKeyPairSync } from 'node:crypto'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import t from 'tap'
import { parse, parseAllDocuments } from 'yaml'
import { CONFIG_FILE_ENV } from '../../src/config/env.js'
import { ENV_KEYS, loadConfig } from '../../src/config/load.js'
import { loadPolicy } from '../../src/policy/load-policy.js'
import { loadSigningKey } from '../../src/sign/keys.js'
import { HEALTHZ_PATH, READYZ_PATH } from '../../src/endpoints.js'
import { problemsOf } from '../helpers/problems.js'

/**
 * deploy/kubernetes/ is checked as Kubernetes would read it, and the
 * gateway's part as the gateway would: its configuration and policy are
 * loaded from the files the pod would see.
 */
const DIR = 'deploy/kubernetes'

interface EnvVar { name: string, value?: string }
interface Port { name?: string, containerPort: number }
interface Probe { httpGet?: { path: string, port: string | number }, exec?: unknown, tcpSocket?: { port: string | number } }
interface SecurityContext { runAsNonRoot?: boolean, runAsUser?: number, readOnlyRootFilesystem?: boolean, allowPrivilegeEscalation?: boolean, capabilities?: { drop?: string[] } }
interface Container { name: string, image: string, args?: string[], env?: EnvVar[], ports?: Port[], volumeMounts?: Array<{ name: string, mountPath: string, readOnly?: boolean }>, livenessProbe?: Probe, readinessProbe?: Probe, securityContext?: SecurityContext }
interface Volume { name: string, configMap?: { name: string, items?: Array<{ key: string, path: string }> }, secret?: { secretName: string, defaultMode?: number }, emptyDir?: object }
interface PodSpec { enableServiceLinks?: boolean, containers: Container[], volumes?: Volume[], securityContext?: SecurityContext & { fsGroup?: number }, terminationGracePeriodSeconds?: number, hostNetwork?: boolean }
interface Resource {
  apiVersion: string
  kind: string
  metadata: { name: string, labels?: Record<string, string> }
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>
    template?: { metadata: { labels: Record<string, string> }, spec: PodSpec }
    ports?: Array<{ name?: string, port: number, targetPort: string | number, protocol?: string }>
    podSelector?: { matchLabels: Record<string, string> }
  }
  data?: Record<string, string>
  stringData?: Record<string, string>
  resources?: string[]
}

const files = readdirSync(DIR).filter(f => f.endsWith('.yaml')).sort()
const resources: Resource[] = []
for (const file of files) {
  if (file === 'kustomization.yaml') continue
  for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
    t.same(doc.errors, [], `${file} parses`)
    resources.push(doc.toJS() as Resource)
  }
}
const kustomization = parse(readFileSync(join(DIR, 'kustomization.yaml'), 'utf8')) as Resource

function find (kind: string, name: string): Resource {
  const found = resources.find(r => r.kind === kind && r.metadata.name === name)
  if (found === undefined) throw new Error(`no ${kind} ${name} in ${DIR}`)
  return found
}
const deployments = resources.filter(r => r.kind === 'Deployment')
const podOf = (deployment: Resource): PodSpec => deployment.spec?.template?.spec as PodSpec
const appPod = podOf(find('Deployment', 'app'))
const container = (name: string): Container => {
  const c = appPod.containers.find(c => c.name === name)
  if (c === undefined) throw new Error(`no container ${name}`)
  return c
}
const gatehouse = container('gatehouse')
const app = container('app')
const envOf = (c: Container): Record<string, string> => Object.fromEntries((c.env ?? []).map(e => [e.name, e.value ?? '']))

/** A container port by number or by name. */
function portNumber (c: Container, port: string | number): number | undefined {
  return typeof port === 'number' ? port : c.ports?.find(p => p.name === port)?.containerPort
}

t.test('kustomization names every file, and every file is Kubernetes objects', async t => {
  t.same([...(kustomization.resources ?? [])].sort(), files.filter(f => f !== 'kustomization.yaml'))
  for (const r of resources) t.ok(r.apiVersion !== undefined && r.kind !== undefined && r.metadata?.name !== undefined, `${r.kind} ${r.metadata?.name}`)
})

t.test('one pod: the app and Gatehouse in front; only Gatehouse has a port, and the Service targets it', async t => {
  t.same(appPod.containers.map(c => c.name).sort(), ['app', 'gatehouse'])
  t.notOk(appPod.hostNetwork, 'pod network, not the node\'s')
  t.equal(app.ports, undefined, 'the app exposes no port')
  t.same(gatehouse.ports, [{ name: 'http', containerPort: 8080 }])
  t.equal(envOf(app).HOST, '127.0.0.1', 'the app listens on localhost only')

  const service = find('Service', 'app')
  t.same(service.spec?.selector, find('Deployment', 'app').spec?.template?.metadata.labels, 'the Service selects the pod')
  for (const p of service.spec?.ports ?? []) {
    t.equal(portNumber(gatehouse, p.targetPort), 8080, `Service port ${p.port} goes to Gatehouse`)
    t.equal(portNumber(app, p.targetPort), undefined, 'and never to the app')
    t.not(p.targetPort, Number(envOf(app).PORT))
  }
})

t.test('probes: liveness on /.gatehouse/healthz, readiness on /.gatehouse/readyz, on the gateway\'s port', async t => {
  t.equal(gatehouse.livenessProbe?.httpGet?.path, '/.gatehouse/healthz')
  t.equal(gatehouse.readinessProbe?.httpGet?.path, '/.gatehouse/readyz')
  t.equal(portNumber(gatehouse, gatehouse.livenessProbe?.httpGet?.port ?? ''), 8080)
  t.equal(portNumber(gatehouse, gatehouse.readinessProbe?.httpGet?.port ?? ''), 8080)
  t.equal(HEALTHZ_PATH, gatehouse.livenessProbe?.httpGet?.path, 'the gateway\'s healthz path')
  t.equal(READYZ_PATH, gatehouse.readinessProbe?.httpGet?.path, 'and its readyz path')
  const routes = readFileSync('src/server/gateway-routes.ts', 'utf8')
  t.match(routes, 'app.get(HEALTHZ_PATH', 'the gateway serves healthz')
  t.match(routes, 'app.get(READYZ_PATH', 'and readyz')
  const redis = podOf(find('Deployment', 'gatehouse-redis')).containers[0] as Container
  t.ok(redis.readinessProbe !== undefined && redis.livenessProbe !== undefined, 'Redis has probes too')
})

t.test('every volume mounted exists, and every ConfigMap, Secret and key it names', async t => {
  for (const deployment of deployments) {
    const pod = podOf(deployment)
    const volumes = new Map((pod.volumes ?? []).map(v => [v.name, v]))
    for (const c of pod.containers) {
      for (const mount of c.volumeMounts ?? []) {
        const volume = volumes.get(mount.name)
        t.ok(volume, `${deployment.metadata.name}/${c.name}: volume ${mount.name}`)
        if (volume?.configMap !== undefined) {
          const data = find('ConfigMap', volume.configMap.name).data ?? {}
          for (const item of volume.configMap.items ?? []) t.ok(item.key in data, `ConfigMap ${volume.configMap.name} has ${item.key}`)
        }
        if (volume?.secret !== undefined) t.ok(find('Secret', volume.secret.secretName), `Secret ${volume.secret.secretName}`)
        if (volume?.configMap !== undefined || volume?.secret !== undefined) t.equal(mount.readOnly, true, `${mount.name} mounted read-only`)
      }
    }
  }
})

t.test('every GATEHOUSE_* name in the Kubernetes files and in docker-compose.yml is one the config reads', async t => {
  const known = new Set([...ENV_KEYS.map(k => k.name), CONFIG_FILE_ENV])
  const used: string[] = []
  for (const deployment of deployments) for (const c of podOf(deployment).containers) used.push(...(c.env ?? []).map(e => e.name))
  const compose = parse(readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, { environment?: Record<string, string> }> }
  for (const svc of Object.values(compose.services)) used.push(...Object.keys(svc.environment ?? {}))
  const gatehouseNames = used.filter(n => n.startsWith('GATEHOUSE_'))
  t.ok(gatehouseNames.length > 10, `${gatehouseNames.length} names checked`)
  for (const name of gatehouseNames) t.ok(known.has(name), `${name} is a config key`)
  // And a name the config does not read would fail this check.
  t.notOk(known.has('GATEHOUSE_SESSION_SECRETS'))
})

t.test('secrets come from the Secret as files; the Secret holds placeholders only', async t => {
  const secret = find('Secret', 'gatehouse-secrets')
  for (const [key, value] of Object.entries(secret.stringData ?? {})) {
    t.equal(value, 'REPLACE-ME', `${key} is a placeholder`)
  }
  t.same(Object.keys(secret.data ?? {}), [], 'no encoded values either')
  for (const name of Object.keys(envOf(gatehouse))) t.notMatch(name, /SECRET$|PASSWORD/, `${name}: no secret in the environment`)
})

t.test('non-root, read-only root filesystem, no privilege escalation, for every container', async t => {
  for (const deployment of deployments) {
    const pod = podOf(deployment)
    for (const c of pod.containers) {
      const sc = { ...pod.securityContext, ...c.securityContext }
      const where = `${deployment.metadata.name}/${c.name}`
      t.equal(sc.runAsNonRoot, true, `${where}: runAsNonRoot`)
      t.ok(typeof sc.runAsUser === 'number' && sc.runAsUser > 0, `${where}: a numeric, non-zero user (images name theirs, which the kubelet cannot check)`)
      t.equal(sc.readOnlyRootFilesystem, true, `${where}: readOnlyRootFilesystem`)
      t.equal(sc.allowPrivilegeEscalation, false, `${where}: no privilege escalation`)
      t.same(sc.capabilities?.drop, ['ALL'], `${where}: no capabilities`)
    }
  }
})

t.test('no service links: no pod gets {SERVICE}_PORT… variables for the namespace\'s Services', async t => {
  for (const deployment of deployments) t.equal(podOf(deployment).enableServiceLinks, false, deployment.metadata.name)
})

/** The variables Kubernetes injects for a Service when service links are on (kubelet's makeLinkVariables). */
function serviceLinks (service: Resource, ip: string): Record<string, string> {
  const name = service.metadata.name.toUpperCase().replaceAll('-', '_')
  const vars: Record<string, string> = { [`${name}_SERVICE_HOST`]: ip }
  for (const [i, port] of (service.spec?.ports ?? []).entries()) {
    const protocol = port.protocol ?? 'TCP'
    const prefix = `${name}_PORT_${port.port}_${protocol}`
    if (i === 0) {
      vars[`${name}_SERVICE_PORT`] = String(port.port)
      vars[`${name}_PORT`] = `${protocol.toLowerCase()}://${ip}:${port.port}`
    }
    if (port.name !== undefined) vars[`${name}_SERVICE_PORT_${port.name.toUpperCase().replaceAll('-', '_')}`] = String(port.port)
    Object.assign(vars, { [prefix]: `${protocol.toLowerCase()}://${ip}:${port.port}`, [`${prefix}_PROTO`]: protocol.toLowerCase(), [`${prefix}_PORT`]: String(port.port), [`${prefix}_ADDR`]: ip })
  }
  return vars
}

t.test('Redis: its own Deployment and Service, reachable from the app\'s pods only, at the URL the gateway uses', async t => {
  const redis = find('Deployment', 'gatehouse-redis')
  const service = find('Service', 'gatehouse-redis')
  t.same(service.spec?.selector, redis.spec?.template?.metadata.labels)
  const redisContainer = podOf(redis).containers[0] as Container
  const policy = find('NetworkPolicy', 'gatehouse-redis')
  t.same(policy.spec?.podSelector?.matchLabels, redis.spec?.template?.metadata.labels)
  t.match(JSON.stringify(policy), JSON.stringify(find('Deployment', 'app').spec?.template?.metadata.labels), 'the app pods are the ones let in')
  const config = parse(find('ConfigMap', 'gatehouse-config').data?.['gateway.yaml'] ?? '') as { redis: { url: string } }
  const url = new URL(config.redis.url)
  t.equal(url.hostname, service.metadata.name)
  t.equal(Number(url.port), service.spec?.ports?.[0]?.port)
  t.equal(portNumber(redisContainer, service.spec?.ports?.[0]?.targetPort ?? ''), 6379)
})

t.test('the gateway starts from these files: config and policy load as the pod would see them', async t => {
  // The pod's files, under a temporary root: the ConfigMap's items and the Secret's keys at their mount paths.
  const root = mkdtempSync(join(tmpdir(), 'gatehouse-k8s-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  const volumes = new Map((appPod.volumes ?? []).map(v => [v.name, v]))
  const secretValues: Record<string, string> = { ...find('Secret', 'gatehouse-secrets').stringData }
  const materialize = (): void => {
    for (const mount of gatehouse.volumeMounts ?? []) {
      const volume = volumes.get(mount.name)
      const entries: Array<[string, string]> = volume?.configMap !== undefined
        ? (volume.configMap.items ?? []).map(i => [i.path, find('ConfigMap', volume.configMap?.name ?? '').data?.[i.key] ?? ''])
        : Object.entries(secretValues)
      for (const [path, content] of entries) {
        const file = join(root, mount.mountPath, path)
        mkdirSync(dirname(file), { recursive: true })
        writeFileSync(file, content.split('/etc/gatehouse/').join(`${root}/etc/gatehouse/`).split('/run/secrets/').join(`${root}/run/secrets/`))
      }
    }
  }
  materialize()
  const env = Object.fromEntries(Object.entries(envOf(gatehouse)).map(([k, v]) => [k, v.startsWith('/') ? join(root, v) : v]))

  // As shipped, the placeholders stop the start: nobody runs the example's secrets by accident.
  const problems = problemsOf(() => loadConfig({ file: env[CONFIG_FILE_ENV], env }))
  t.same(problems.filter(p => p.severity === 'error').map(p => p.message), ['the session secret must be at least 32 characters (e.g. openssl rand -base64 48)'])
  await t.rejects(loadSigningKey(join(root, '/run/secrets/gatehouse/signing-key.pem'), 'ES256'), 'nor does the placeholder signing key load')

  // With real values in the Secret, everything loads.
  secretValues['session-secret'] = 'k'.repeat(48)
  secretValues['signing-key.pem'] = String(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  materialize()
  const { config } = loadConfig({ file: env[CONFIG_FILE_ENV], env })
  t.equal(config.listen.port, 8080, 'listens on the container port')
  // Where service links are left on (an older manifest, another chart), Services named gatehouse… inject GATEHOUSE_* variables.
  const links: Record<string, string> = {}
  for (const service of resources.filter(r => r.kind === 'Service')) Object.assign(links, serviceLinks(service, '10.96.0.17'), serviceLinks({ ...service, metadata: { name: 'gatehouse' } }, '10.96.0.18'))
  t.ok(Object.keys(links).filter(n => n.startsWith('GATEHOUSE_')).length >= 7, 'the files\' Services and one named gatehouse give GATEHOUSE_* links')
  const linked = loadConfig({ file: env[CONFIG_FILE_ENV], env: { ...links, ...env } })
  t.same([...linked.ignoredEnv].sort(), Object.keys(links).filter(n => n.startsWith('GATEHOUSE_')).sort(), 'the gateway starts, passing over every service link')
  t.equal(config.upstream.url, `http://127.0.0.1:${envOf(app).PORT}`, 'forwards to the app on the pod\'s localhost')
  t.equal(config.session.secret, 'k'.repeat(48), 'the session secret is the Secret\'s file')
  t.ok((appPod.terminationGracePeriodSeconds ?? 30) * 1000 > config.shutdown.gracePeriodMs, 'Kubernetes waits longer than the gateway\'s grace period')
  const key = await loadSigningKey(config.signing.keyFile ?? '', config.signing.algorithm)
  t.ok(key.kid, 'the signing key loads')
  const { policy } = loadPolicy(config.policies ?? '', { defaultUpstream: { url: config.upstream.url ?? '', timeoutMs: config.upstream.timeoutMs } })
  t.same(policy.routes.map(r => r.name), ['public', 'admin', 'app'])
})
