import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import t from 'tap'
import { freePort } from '../helpers/ports.js'

/**
 * No container engine runs here, so this test performs the Dockerfile's own
 * steps as a script: each stage gets a folder standing for its /app, COPY and
 * RUN are carried out as written, and the runtime stage is started with its
 * ENTRYPOINT and CMD and probed with its HEALTHCHECK.
 */

interface Instruction { op: string, args: string }
interface Stage { name: string, base: string, steps: Instruction[] }

function parseDockerfile (text: string): Stage[] {
  const logical = text.replace(/\\\n/g, ' ').split('\n').map(l => l.trim()).filter(l => l !== '' && !l.startsWith('#'))
  const stages: Stage[] = []
  for (const line of logical) {
    const [op = '', ...rest] = line.split(/\s+/)
    const args = rest.join(' ')
    if (op.toUpperCase() === 'ARG' && stages.length === 0) continue
    if (op.toUpperCase() === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args)
      stages.push({ base: m?.[1] ?? '', name: m?.[2] ?? `stage${stages.length}`, steps: [] })
    } else {
      stages.at(-1)?.steps.push({ op: op.toUpperCase(), args })
    }
  }
  return stages
}

// The image build runs npm ci and tsc in a copy of the repository: minutes on a busy machine, so more than the default per-file limit.
t.setTimeout(600_000)

const repo = resolve('.')
const dockerfile = readFileSync(join(repo, 'Dockerfile'), 'utf8')
const stages = parseDockerfile(dockerfile)
const stage = (name: string): Stage => {
  const s = stages.find(x => x.name === name)
  if (s === undefined) throw new Error(`no stage ${name}`)
  return s
}

t.test('the image is multi-stage, non-root, with a health check and production dependencies only', async t => {
  t.same(stages.map(s => s.name), ['build', 'dev', 'prod-deps', 'runtime'])
  const runtime = stage('runtime')
  t.match(runtime.base, /^node:\$\{NODE_VERSION\}-bookworm-slim$/)
  t.match(dockerfile, /^ARG NODE_VERSION=\d+$/m)
  t.equal(runtime.steps.filter(s => s.op === 'USER').at(-1)?.args, 'node', 'runs as the unprivileged node user')
  t.ok(runtime.steps.some(s => s.op === 'HEALTHCHECK' && s.args.includes('dist/healthcheck.js')), 'HEALTHCHECK on /.gatehouse/healthz')
  t.notOk(runtime.steps.some(s => s.op === 'COPY' && /--from=build \/app\/node_modules/.test(s.args)), 'node_modules come from prod-deps, not build')
  t.notOk(runtime.steps.some(s => s.op === 'COPY' && /--from=build /.test(s.args)), 'the runtime copies nothing from build: dist comes from prod-deps, without the development IdP and the demo')
})

t.test('the Dockerfile steps build an image that serves /.gatehouse/healthz', { timeout: 600_000 }, async t => {
  const work = mkdtempSync(join(tmpdir(), 'gatehouse-image-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  const dirs = new Map<string, string>()
  const workdirs = new Map<string, string>()

  const run = (cmd: string, cwd: string): void => {
    const result = spawnSync('bash', ['-c', cmd], { cwd, stdio: 'pipe', encoding: 'utf8', env: { ...process.env, NODE_ENV: '' } })
    if (result.status !== 0) throw new Error(`RUN ${cmd} failed (${String(result.status)} ${String(result.error)}):\n${result.stdout}\n${result.stderr}`)
  }
  // Paths inside the image: /app is the stage's folder; anything else lives under <stage>/root.
  const inImage = (dir: string, path: string, workdir: string): string => {
    const abs = path.startsWith('/') ? path : join(workdir, path)
    return abs === '/app' || abs.startsWith('/app/') ? join(dir, abs.slice('/app'.length)) : join(dir, 'root', abs)
  }

  for (const s of stages) {
    const dir = join(work, s.name)
    const parent = dirs.get(s.base)
    if (parent !== undefined) cpSync(parent, dir, { recursive: true, verbatimSymlinks: true })
    else mkdirSync(dir, { recursive: true })
    dirs.set(s.name, dir)
    let workdir = workdirs.get(s.base) ?? '/'
    for (const step of s.steps) {
      if (step.op === 'WORKDIR') workdir = step.args
      workdirs.set(s.name, workdir)
      if (step.op === 'COPY') {
        const parts = step.args.split(/\s+/)
        const from = parts[0]?.startsWith('--from=') === true ? parts.shift()?.slice('--from='.length) : undefined
        const dest = parts.pop() ?? '.'
        for (const src of parts) {
          const source = from === undefined ? join(repo, src) : inImage(dirs.get(from) ?? '', src, '/')
          const target = inImage(dir, dest.endsWith('/') || parts.length > 1 ? join(dest, src.split('/').pop() ?? '') : dest, workdir)
          t.ok(existsSync(source), `COPY source ${src} exists`)
          cpSync(source, target, { recursive: true, verbatimSymlinks: true })
        }
      }
      if (step.op === 'RUN') {
        // Steps that only set up image paths and ownership are checked, not run on the host.
        if (/^mkdir -p \/keys && chown node:node \/keys$/.test(step.args)) continue
        run(step.args, inImage(dir, '.', workdir))
      }
    }
  }

  const app = dirs.get('runtime') ?? ''
  t.ok(existsSync(join(app, 'dist/cli.js')), 'dist/cli.js built')
  for (const dev of ['typescript', 'tap', 'oidc-provider', 'playwright-core']) t.notOk(existsSync(join(app, 'node_modules', dev)), `no dev dependency ${dev} at run time`)
  t.ok(existsSync(join(app, 'node_modules/fastify')), 'production dependencies present')
  for (const devOnly of ['dist/devidp', 'dist/demo']) t.notOk(existsSync(join(app, devOnly)), `${devOnly} (development only) is not in the runtime image`)
  t.ok(existsSync(join(dirs.get('dev') ?? '', 'dist/devidp/main.js')), 'the dev stage (docker-compose) keeps the development IdP')

  const runtime = stage('runtime')
  const entrypoint = JSON.parse(runtime.steps.find(s => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[]
  const cmd = JSON.parse(runtime.steps.find(s => s.op === 'CMD')?.args ?? '[]') as string[]
  const keyFile = join(work, 'signing.pem')
  const keygen = spawnSync(entrypoint[0] ?? 'node', [...entrypoint.slice(1), 'keygen', '--out', keyFile], { cwd: app, encoding: 'utf8' })
  t.equal(keygen.status, 0, `keygen: ${keygen.stderr}`)

  const port = await freePort()
  const env = {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'production',
    GATEHOUSE_LISTEN: `127.0.0.1:${port}`,
    GATEHOUSE_PUBLIC_URL: `http://127.0.0.1:${port}`,
    GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/unreachable',
    GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
    GATEHOUSE_OIDC_CLIENT_ID: 'c',
    GATEHOUSE_OIDC_CLIENT_SECRET: 's',
    GATEHOUSE_SESSION_SECRET: 'y'.repeat(40),
    GATEHOUSE_SIGNING_KEY_FILE: keyFile,
    GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:9',
    GATEHOUSE_ADMIN_LISTEN: '127.0.0.1:0',
  }
  const child = spawn(entrypoint[0] ?? 'node', [...entrypoint.slice(1), ...cmd], { cwd: app, env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  let output = ''
  await new Promise<void>((resolveListening, reject) => {
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); if (output.includes('Server listening')) resolveListening() })
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString() })
    child.once('exit', code => reject(new Error(`gatehouse exited (${String(code)}): ${output}`)))
  })
  const health = await fetch(`http://127.0.0.1:${port}/.gatehouse/healthz`)
  t.equal(health.status, 200, 'healthz answers')
  t.equal((await fetch(`http://127.0.0.1:${port}/.gatehouse/readyz`)).status, 503, 'not ready while the IdP is unreachable')

  const healthcheck = JSON.parse(/CMD (\[.*\])$/.exec(runtime.steps.find(s => s.op === 'HEALTHCHECK')?.args ?? '')?.[1] ?? '[]') as string[]
  const probe = spawnSync(healthcheck[0] ?? 'node', healthcheck.slice(1), { cwd: app, env, encoding: 'utf8' })
  t.equal(probe.status, 0, 'the HEALTHCHECK command passes')

  child.kill('SIGTERM')
  const [code] = await once(child, 'exit') as [number | null]
  t.equal(code, 0, 'exits 0 on SIGTERM')
})
