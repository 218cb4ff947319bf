import t from 'tap'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { policyDir } from '../helpers/policy-files.js'
import { startStack } from '../helpers/stack.js'
import { HOME, USERS } from './fixtures.js'

// A claims challenge like those of Microsoft's continuous access evaluation documentation (a token issued before a
// revocation event), with an id_token part: the stand-in, unlike Entra, refuses a claims request without one.
const CAE = { access_token: { nbf: { essential: true, value: '1604106651' } }, id_token: { acrs: { essential: true, value: 'c1' } } }
const CHALLENGE = `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="${Buffer.from(JSON.stringify(CAE)).toString('base64')}"`

const POLICY = `
routes:
  - name: app
    match: { path: /** }
    allow: authenticated
    step_up_from_upstream: true
`

t.test('Entra: the application\'s claims challenge goes to the provider as the claims parameter; asked again after the trip, its 401 goes to the client', async t => {
  // An application that keeps answering /cae/ with the claims challenge, whatever the sign-in.
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/cae/') === true) {
      res.writeHead(401, { 'www-authenticate': CHALLENGE, 'content-type': 'text/plain' })
      res.end('claims challenge')
      return
    }
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('ok')
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) })
  const { file } = policyDir(t, POLICY)
  const stack = await startStack(t, {
    entra: { tenant: HOME, users: USERS },
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
  })
  const { browser } = await stack.signIn('alice', '/')
  const cookie = stack.sessionCookie(browser) ?? ''

  const api = await fetch(`${stack.url}/cae/data`, { headers: { cookie: `${stack.gateway.cookies.session}=${cookie}`, accept: 'application/json' } })
  t.equal(api.status, 401)
  t.match(await api.json(), { error: { code: 'GH_STEP_UP_REQUIRED', required: { claims: CAE } } })

  const first = await browser.request(`${stack.url}/cae/page`, { followRedirects: false })
  t.equal(first.status, 302)
  const location = new URL(first.headers.get('location') ?? '')
  t.same(JSON.parse(location.searchParams.get('claims') ?? ''), CAE, 'the claims parameter is the application\'s request')

  const back = await browser.get(location.href)
  t.equal(back.url, `${stack.url}/cae/page`, 'back on the page')
  t.equal(back.status, 401, 'the application asked again: its answer, no second trip')
  t.equal(back.body, 'claims challenge')
  t.equal(back.headers.get('www-authenticate'), CHALLENGE)
})
