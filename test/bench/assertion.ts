/**
 * Signing the identity assertion on every request vs. reusing it per session
 * and audience (what the gateway does): time per request for each, in one run.
 */
import { performance } from 'node:perf_hooks'
import { identityFromClaims } from '../../src/identify/build-identity.js'
import { AssertionSigner } from '../../src/sign/assertion.js'
import { generateSigningKey } from '../../src/sign/keys.js'
import { saveResult } from './save-result.js'

const N = Number(process.env.BENCH_SIGNATURES ?? 5000)
const signer = new AssertionSigner(await generateSigningKey('ES256'), 'https://gw.example', 60_000)
const identity = identityFromClaims({ iss: 'bench', sub: 'alice', email: 'alice@example.test', name: 'Alice', groups: ['admins', 'staff'], roles: ['App.Admin'], amr: ['pwd', 'mfa'] }, { groupsClaim: 'groups', rolesClaim: 'roles' })
const time = async (fn: () => Promise<string>): Promise<number> => {
  const started = performance.now()
  for (let i = 0; i < N; i++) await fn()
  return ((performance.now() - started) * 1000) / N
}
await time(async () => await signer.sign(identity, 'http://app'))
const every = await time(async () => await signer.sign(identity, 'http://app'))
const cached = await time(async () => await signer.assertion(identity, 'http://app'))
const result = { benchmark: 'assertion', signatures: N, us_per_request_signing_each_time: Number(every.toFixed(2)), us_per_request_cached: Number(cached.toFixed(3)), speedup: Math.round(every / cached) }
process.stdout.write(`assertion (ES256): ${result.us_per_request_signing_each_time} us/request signing every time, ${result.us_per_request_cached} us/request reused per session (${result.speedup}x)\nsaved ${saveResult('assertion', result)}\n`)
