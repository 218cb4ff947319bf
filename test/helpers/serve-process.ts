import { spawn, type ChildProcess } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { policyDir } from './policy-files.js'
import { freePort } from './ports.js'

interface Teardown { teardown (fn: () => unknown): void }

export interface ServeProcess {
  child: ChildProcess
  url: string
  /** Every log line written so far (JSON). */
  lines: string[]
  /** The log lines so far, parsed. */
  records: () => Array<Record<string, unknown>>
  /** Resolves once a log line that `match` accepts has been written. */
  saw: (match: (r: Record<string, unknown>) => boolean) => Promise<void>
}

/**
 * `gatehouse serve` as its own process in front of `upstream`, with one
 * open route and an IdP that is never reached; resolves once it listens.
 * Killed by t.teardown if still running.
 */
export async function serveProcess (t: Teardown, upstream: string, extra: Record<string, string> = {}): Promise<ServeProcess> {
  const { dir, file } = policyDir(t, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')
  const key = join(dir, 'key.pem')
  writeFileSync(key, generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const port = await freePort()
  const child = spawn(process.execPath, ['dist/cli.js', 'serve'], {
    env: {
      PATH: process.env.PATH ?? '',
      GATEHOUSE_LISTEN: `127.0.0.1:${port}`, GATEHOUSE_PUBLIC_URL: `http://127.0.0.1:${port}`,
      GATEHOUSE_OIDC_ISSUER: 'http://127.0.0.1:9/unreachable', GATEHOUSE_OIDC_ALLOW_INSECURE_HTTP: 'true',
      GATEHOUSE_OIDC_CLIENT_ID: 'c', GATEHOUSE_OIDC_CLIENT_SECRET: 's', GATEHOUSE_SESSION_SECRET: 'z'.repeat(40),
      GATEHOUSE_SIGNING_KEY_FILE: key, GATEHOUSE_UPSTREAM_URL: upstream, GATEHOUSE_POLICIES: file, GATEHOUSE_ADMIN_LISTEN: 'off', ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  const lines: string[] = []
  const waiters: Array<{ match: (r: Record<string, unknown>) => boolean, resolve: () => void }> = []
  const parse = (line: string): Record<string, unknown> => {
    try {
      return JSON.parse(line) as Record<string, unknown>
    } catch {
      return {}
    }
  }
  let partial = ''
  child.stdout?.on('data', (c: Buffer) => {
    const text = partial + c.toString()
    const parts = text.split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      if (line === '') continue
      lines.push(line)
      const record = parse(line)
      for (const w of waiters.filter(w => w.match(record))) w.resolve()
    }
  })
  child.stderr?.resume()
  const records = (): Array<Record<string, unknown>> => lines.map(parse)
  const saw = async (match: (r: Record<string, unknown>) => boolean): Promise<void> => {
    if (records().some(match)) return
    await new Promise<void>(resolve => waiters.push({ match, resolve }))
  }
  // Fastify's own line, which has no field of its own to match.
  await saw(r => typeof r.msg === 'string' && r.msg.startsWith('Server listening'))
  return { child, url: `http://127.0.0.1:${port}`, lines, records, saw }
}
