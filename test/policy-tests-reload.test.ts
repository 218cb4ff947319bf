import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { policyDir } from './helpers/policy-files.js'
import { startStack } from './helpers/stack.js'

const OPEN = 'routes:\n  - name: docs\n    match: { path: /** }\n    allow: anyone\n'
const CLOSED = 'routes:\n  - name: docs\n    match: { path: /** }\n    allow: authenticated\n'
const TESTS = 'cases:\n  - name: the docs are public\n    request: { url: /doc }\n    expect: allow\n'

function testsFile (t: { teardown (fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-policy-tests-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'docs.test.yaml')
  writeFileSync(file, TESTS)
  return file
}

t.test('a reload whose policy fails policy.tests is refused like an invalid file', async t => {
  const tests = testsFile(t)
  const { dir, file } = policyDir(t, OPEN)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: dir, GATEHOUSE_POLICY_TESTS: tests } })
  const reloaded = async (): Promise<boolean> => await new Promise(resolve => { const off = stack.gateway.policies.onReload(ok => { off(); resolve(ok) }) })
  t.equal((await fetch(`${stack.url}/doc`)).status, 200)

  const next = reloaded()
  writeFileSync(file, CLOSED)
  t.equal(await next, false, 'refused')
  t.equal((await fetch(`${stack.url}/doc`)).status, 200, 'the last good policy stays in force')
  const ready = await (await fetch(`${stack.url}/.gatehouse/readyz`)).json() as { checks: { policy: string }, policy: { tests_failed: number } }
  t.equal(ready.checks.policy, 'tests_failed')
  t.equal(ready.policy.tests_failed, 1)
  const event = stack.logs.records().find(r => r.audit === true && r.event === 'policy.reload_failed')
  t.match(event, { tests_failed: 1, failing_cases: [`${tests}:2: policy test failed: the docs are public: expected allow, got signin (route docs, reason not_signed_in, rule ${file}:2)`] })
})

t.test('a start whose policy fails policy.tests does not happen, naming the failing case', async t => {
  const tests = testsFile(t)
  const { file } = policyDir(t, CLOSED)
  let problems: Array<{ where: string, message: string }> = []
  try {
    await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_POLICY_TESTS: tests } })
  } catch (err) {
    problems = (err as { problems?: typeof problems }).problems ?? []
  }
  t.match(problems, [{ where: `${tests}:2`, message: /^policy test failed: the docs are public: expected allow, got signin/ }])
})
