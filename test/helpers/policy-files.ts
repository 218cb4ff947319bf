import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DevUser } from '../../src/devidp/provider.js'
import { DEMO_USERS } from '../../src/devidp/provider.js'

interface Teardown { teardown (fn: () => unknown): void }

/** A fresh folder with one policy file; removed by t.teardown. Returns the folder and the file. */
export function policyDir (t: Teardown, text: string, name = 'policy.yaml'): { dir: string, file: string } {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, name)
  writeFileSync(file, text)
  return { dir, file }
}

/** policies/example.yaml as shipped, with its upstream URLs replaced by the test's servers. */
export function examplePolicy (legacyUrl: string, reportsUrl: string): string {
  return readFileSync('policies/example.yaml', 'utf8')
    .replace('http://127.0.0.1:9100', legacyUrl)
    .replace('http://127.0.0.1:9200', reportsUrl)
}

/** The demo users plus the people the example policy needs. */
export const POLICY_USERS: DevUser[] = [
  ...DEMO_USERS,
  { id: 'carol', password: 'carol-pass', name: 'Carol Finance', email: 'carol@example.test', groups: ['finance'], roles: [], amr: ['pwd'] },
  { id: 'dave', password: 'dave-pass', name: 'Dave NoMfa', email: 'dave@example.test', groups: ['admins'], roles: [], amr: ['pwd'] },
]
