import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { WebSocketServer } from 'ws'
import { escapeHtml } from '../server/html.js'

/**
 * A stand-in for the "legacy" application behind the gateway: it has no
 * sign-in of its own, shows the identity headers it received, and verifies
 * the signed assertion against the gateway's JWKS, as a real upstream should.
 * GET /ws upgrades to a WebSocket that echoes messages with the user's id.
 */
export interface LegacyAppOptions {
  host?: string
  port?: number
  /** The gateway's public URL: the assertion's issuer and where its JWKS is. */
  gatewayUrl: string
  /** The audience this app expects (the URL the gateway forwards to). Defaults to the app's own URL. */
  audience?: string
}

export interface ReceivedRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
}

export interface LegacyApp {
  url: string
  /** Every request received, in order (tests assert what reached the upstream). */
  requests: ReceivedRequest[]
  close (): Promise<void>
}

export interface AssertionCheck {
  valid: boolean
  /** A request the gateway let through without a signed-in user (a public route): no assertion is expected. */
  anonymous?: boolean
  claims?: JWTPayload
  error?: string
}

/** Identity list headers the gateway leaves out when the list is empty. */
const LIST_HEADERS = ['x-gatehouse-groups', 'x-gatehouse-roles']

export async function startLegacyApp (opts: LegacyAppOptions): Promise<LegacyApp> {
  const jwks = createRemoteJWKSet(new URL('/.gatehouse/jwks.json', opts.gatewayUrl))
  const requests: ReceivedRequest[] = []
  let audience = opts.audience ?? ''

  const verify = async (headers: IncomingHttpHeaders): Promise<AssertionCheck> => {
    const token = headers['x-gatehouse-assertion']
    if (typeof token !== 'string') {
      return headers['x-gatehouse-user'] === undefined ? { valid: false, anonymous: true } : { valid: false, error: 'no X-Gatehouse-Assertion header' }
    }
    try {
      const { payload } = await jwtVerify(token, jwks, { issuer: opts.gatewayUrl, audience, algorithms: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'] })
      return { valid: true, claims: payload }
    } catch (err) {
      return { valid: false, error: `${(err as { code?: string }).code ?? 'error'}: ${(err as Error).message}` }
    }
  }

  const server: Server = createServer((req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers })
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void verify(req.headers).then(assertion => {
        const identity = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('x-gatehouse-') && k !== 'x-gatehouse-assertion'))
        const wantsJson = (req.headers.accept ?? '').includes('application/json') || (req.url ?? '').startsWith('/api/')
        if (wantsJson) {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), identity, assertion }))
          return
        }
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': 'legacy_app_visits=1; Path=/; HttpOnly' })
        res.end(page(req.url ?? '/', identity, assertion))
      })
    })
  })
  const wss = new WebSocketServer({ server, path: '/ws' })
  wss.on('connection', (socket, req) => {
    requests.push({ method: 'WEBSOCKET', url: req.url ?? '', headers: req.headers })
    const user = String(req.headers['x-gatehouse-user'] ?? '')
    socket.on('message', (data) => socket.send(JSON.stringify({ user, echo: data.toString() })))
  })

  await new Promise<void>(resolve => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const url = `http://${opts.host ?? '127.0.0.1'}:${port}`
  if (audience === '') audience = url
  return {
    url,
    requests,
    async close () {
      for (const client of wss.clients) client.terminate()
      wss.close()
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
    },
  }
}

function page (url: string, identity: Record<string, unknown>, assertion: AssertionCheck): string {
  const signedIn = identity['x-gatehouse-user'] !== undefined
  // An absent groups or roles header means none.
  const none = signedIn ? LIST_HEADERS.filter(name => identity[name] === undefined) : []
  const rows = [
    ...Object.entries(identity).map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(String(v))}</td></tr>`),
    ...none.map(name => `<tr><th>${escapeHtml(name)}</th><td class="muted">none (not sent)</td></tr>`),
  ].join('')
  const verdict = assertion.valid
    ? `<p class="ok">Assertion verified against the gateway's JWKS.</p><pre>${escapeHtml(JSON.stringify(assertion.claims, null, 2))}</pre>`
    : assertion.anonymous === true
      ? '<p class="muted">anonymous request, no assertion</p>'
      : `<p class="bad">Assertion not verified: ${escapeHtml(assertion.error ?? '')}</p>`
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Legacy app</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse}th,td{text-align:left;padding:.25rem .75rem;border-bottom:1px solid #ddd}.ok{color:#1a7f37}.bad{color:#b42318}.muted{color:#555}pre{background:#f4f5f7;padding:1rem;overflow:auto}</style></head>
<body><h1>Legacy app</h1><p>This application has no sign-in of its own. Gatehouse signed you in and told it who you are.</p>
<p>Path: <code>${escapeHtml(url)}</code></p>
<h2>Identity headers received</h2><table>${rows || '<tr><td>none</td></tr>'}</table>
<h2>Signed assertion</h2>${verdict}
<form method="post" action="/.gatehouse/logout"><button type="submit">Sign out</button></form>
</body></html>`
}
