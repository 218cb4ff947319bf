import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

// The container's HEALTHCHECK runs dist/healthcheck.js with the same config as serve.
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-healthcheck-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

async function healthz (status: number): Promise<Server> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/.gatehouse/healthz' ? status : 404
    res.end()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(() => { server.close() })
  return server
}

function portOf (server: Server): number {
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** The config file names the listener; the environment does not. */
async function probe (listen: string): Promise<number | null> {
  const file = join(dir, `config-${listen.replace(/[^0-9]/g, '')}.yaml`)
  writeFileSync(file, [
    `listen: "${listen}"`,
    'public_url: https://app.example.com',
    'oidc: { issuer: https://idp.example.com, client_id: c, client_secret: s }',
    `session: { secret: ${'y'.repeat(40)} }`,
    'signing: { key_file: /keys/k.pem }',
    'upstream: { url: "http://127.0.0.1:9" }',
    'admin: { listen: off }',
  ].join('\n'))
  const child = spawn(process.execPath, ['dist/healthcheck.js'], { env: { PATH: process.env.PATH, GATEHOUSE_CONFIG: file }, stdio: 'ignore' })
  const [code] = await once(child, 'exit') as [number | null]
  return code
}

t.test('the listen of the YAML config is probed', async t => {
  const healthy = await healthz(200)
  t.equal(await probe(`0.0.0.0:${portOf(healthy)}`), 0, 'a wildcard listener is probed on loopback')
  t.equal(await probe(`127.0.0.1:${portOf(healthy)}`), 0, 'a specific host is probed there')
})

t.test('a gateway that is not healthy fails the check', async t => {
  const unhealthy = await healthz(503)
  t.equal(await probe(`127.0.0.1:${portOf(unhealthy)}`), 1)
})
