import t from 'tap'
import fc from 'fast-check'
import { startLegacyApp } from '../../src/demo/legacy-app.js'
import { canonicalizeTarget } from '../../src/policy/canonical-path.js'
import { policyDir } from '../helpers/policy-files.js'
import { rawRequest } from '../helpers/raw-http.js'
import { startStack } from '../helpers/stack.js'

/**
 * Property-based checks over what clients send: whatever the path, headers
 * or cookies, the gateway never answers 500 and never stops answering, the
 * path the upstream receives is exactly the canonical path the policy decided
 * on, and no identity header of the client's reaches the upstream.
 */
const PIECES = ['/', '//', '.', '..', '%2e', '%2E', '%2f', '%5c', '%00', '%25', ';', ';x=1', 'a', 'A', 'admin', 'public', '%41', '%c3%a9', '%c0%ae', '%ff', '~', '%7e', '?', '&', '=', '#', '\\', '%20', '*', ':', '@', '!', "'", '(', ')', '+', ',', '$']

t.test('paths: never a 500, and the upstream gets exactly the canonical path', async t => {
  const app = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => app.close())
  const { file } = policyDir(t, `upstreams: { app: { url: "${app.url}" } }\nroutes:\n  - name: admin\n    match: { path: /admin/** }\n    upstream: app\n    allow: authenticated\n  - name: open\n    match: { path: /** }\n    upstream: app\n    allow: anyone\n`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn' } })
  const port = Number(new URL(stack.url).port)
  await fc.assert(fc.asyncProperty(fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 12 }), async pieces => {
    const target = `/${pieces.join('')}`
    const before = app.requests.length
    const res = await rawRequest(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n`)
    if (res.status === 0 || res.status >= 500) throw new Error(`${target} -> ${res.status}`)
    const canonical = canonicalizeTarget(target)
    if (app.requests.length > before) {
      if (!canonical.ok) throw new Error(`${target} was refused by canonicalization but reached the upstream`)
      const expected = canonical.value.query === '' ? canonical.value.path : `${canonical.value.path}?${canonical.value.query}`
      const seen = app.requests.at(-1)?.url
      if (seen !== expected) throw new Error(`${target}: decided on ${expected}, the upstream got ${String(seen)}`)
      if (canonical.value.matchPath.toLowerCase().startsWith('/admin')) throw new Error(`${target} reached the upstream under the admin route without sign-in`)
    }
  }), { numRuns: 400, seed: 20261127 })
  t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})

t.test('headers and cookies: never a 500, and no client identity header reaches the upstream', async t => {
  const app = await startLegacyApp({ gatewayUrl: 'http://placeholder' })
  t.teardown(() => app.close())
  const { file } = policyDir(t, `upstreams: { app: { url: "${app.url}" } }\nroutes:\n  - name: open\n    match: { path: /** }\n    upstream: app\n    allow: anyone\n`)
  const stack = await startStack(t, { env: { GATEHOUSE_POLICIES: file, GATEHOUSE_LOG_LEVEL: 'warn' } })
  const port = Number(new URL(stack.url).port)
  const name = fc.tuple(fc.constantFrom('x', 'X', 'x_', 'X-'), fc.constantFrom('gatehouse', 'GateHouse', 'GATEHOUSE', 'forwarded', 'real'), fc.constantFrom('-user', '_user', '-User', '-groups', '_Assertion', '-for', '-ip', '')).map(([a, b, c]) => `${a}${b.startsWith('-') ? b : (a.endsWith('-') || a.endsWith('_') ? b : `-${b}`)}${c}`)
  const value = fc.stringMatching(/^[\x21-\x7e ]{0,40}$/)
  const cookie = fc.array(fc.tuple(fc.constantFrom('gatehouse', 'gatehouse-signin', '__Host-gatehouse', 'app', ''), fc.stringMatching(/^[\x21-\x3a\x3c-\x7e]{0,60}$/)), { maxLength: 4 }).map(pairs => pairs.map(([k, v]) => `${k}=${v}`).join('; '))
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(name, value), { maxLength: 6 }), cookie, async (headers, cookies) => {
    const before = app.requests.length
    const lines = headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')
    const res = await rawRequest(port, `GET /page HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}${cookies === '' ? '' : `Cookie: ${cookies}\r\n`}Connection: close\r\n\r\n`)
    if (res.status === 0 || res.status >= 500) throw new Error(`-> ${res.status}: ${JSON.stringify({ headers, cookies })}`)
    if (app.requests.length > before) {
      const seen = app.requests.at(-1)?.headers ?? {}
      const leaked = Object.keys(seen).filter(k => k.replaceAll('_', '-').startsWith('x-gatehouse-') || k.includes('_'))
      if (leaked.length > 0) throw new Error(`client headers reached the upstream: ${leaked.join(', ')}`)
      const forwardedFor = seen['x-forwarded-for']
      if (forwardedFor !== '127.0.0.1') throw new Error(`X-Forwarded-For was ${String(forwardedFor)}`)
      if (/(^|; )(gatehouse|gatehouse-signin)=/.test(String(seen.cookie ?? ''))) throw new Error('a gateway cookie reached the upstream')
    }
  }), { numRuns: 300, seed: 20261127 })
  t.equal((await fetch(`${stack.url}/.gatehouse/healthz`)).status, 200, 'still healthy afterwards')
})
