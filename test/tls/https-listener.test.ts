import { connect as h2connect, type ClientHttp2Session, type IncomingHttpHeaders as H2Headers } from 'node:http2'
import { request as httpRequest } from 'node:http'
import { Agent, request as httpsRequest } from 'node:https'
import { connect as tlsConnect, type PeerCertificate } from 'node:tls'
import { copyFileSync, mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { WebSocket } from 'ws'
import { startStack, type Stack } from '../helpers/stack.js'
import { policyDir } from '../helpers/policy-files.js'
import { startRecordingUpstream, type RecordingUpstream } from '../helpers/recording-upstream.js'
import { createTestPki, type TestPki } from '../helpers/tls-certs.js'
import { freePort } from '../helpers/ports.js'

const POLICY = (upstream: string): string => `
upstreams:
  app: { url: ${upstream} }
routes:
  - name: open
    match: { path: /** }
    upstream: app
    allow: anyone
`

interface Teardown { teardown (fn: () => unknown): void }

interface TlsStack { stack: Stack, pki: TestPki, upstream: RecordingUpstream, certDir: string }

/**
 * A gateway serving HTTPS with a certificate laid out as cert-manager
 * mounts a Secret: the files are symlinks through `..data`, itself a
 * symlink to a folder of the current version, swapped atomically on renewal.
 */
async function startTlsStack (t: Teardown, env: Record<string, string> = {}): Promise<TlsStack> {
  const pki = createTestPki(t)
  const upstream = await startRecordingUpstream(t)
  const certDir = join(pki.dir, 'mounted')
  mkdirSync(certDir)
  installVersion(certDir, 'v1', pki.server('first.example'))
  symlinkSync('..data/tls.crt', join(certDir, 'tls.crt'))
  symlinkSync('..data/tls.key', join(certDir, 'tls.key'))
  const { file } = policyDir(t, POLICY(upstream.url))
  const stack = await startStack(t, {
    redis: 'memory',
    https: true,
    env: { GATEHOUSE_POLICIES: file, GATEHOUSE_TLS_CERT_FILE: join(certDir, 'tls.crt'), GATEHOUSE_TLS_KEY_FILE: join(certDir, 'tls.key'), ...env },
  })
  return { stack, pki, upstream, certDir }
}

/** Writes a version folder and points `..data` at it with one rename, as cert-manager's atomic writer does. */
function installVersion (certDir: string, version: string, files: { cert: string, key: string }): void {
  const folder = join(certDir, `..${version}`)
  mkdirSync(folder)
  writeFileSync(join(folder, 'tls.crt'), files.cert)
  writeFileSync(join(folder, 'tls.key'), files.key)
  symlinkSync(`..${version}`, join(certDir, '..data_tmp'))
  renameSync(join(certDir, '..data_tmp'), join(certDir, '..data'))
}

async function h2get (session: ClientHttp2Session, path: string, headers: Record<string, string> = {}): Promise<{ headers: H2Headers, body: string }> {
  const req = session.request({ ':path': path, ...headers })
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (chunk: string) => { body += chunk })
  const response = await new Promise<H2Headers>((resolve, reject) => { req.once('response', resolve); req.once('error', reject) })
  await new Promise(resolve => req.once('end', resolve))
  return { headers: response, body }
}

async function h1get (url: string, ca: string, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string, alpn: string | false | null }> {
  return await new Promise((resolve, reject) => {
    const req = httpsRequest(url, { ca, headers, agent: new Agent({ ALPNProtocols: ['http/1.1'] }) }, res => {
      const alpn = (res.socket as unknown as { alpnProtocol: string | false | null }).alpnProtocol
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body, alpn }) })
    })
    req.once('error', reject)
    req.end()
  })
}

/** The certificate a new TLS connection is served (and the protocol it agreed), then the connection is closed. */
async function handshake (port: number, opts: { ca: string, minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3', maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3', ALPNProtocols?: string[] }): Promise<{ cert: PeerCertificate, protocol: string | null }> {
  return await new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...opts }, () => {
      const result = { cert: socket.getPeerCertificate(), protocol: socket.getProtocol() }
      socket.end()
      resolve(result)
    })
    socket.once('error', reject)
  })
}

function portOf (url: string): number {
  return Number(new URL(url).port)
}

t.test('HTTP/2 by ALPN: proxied with Host from :authority, no pseudo-header upstream, https forwarding headers and HSTS', async t => {
  const { stack, pki, upstream } = await startTlsStack(t, { GATEHOUSE_TLS_STRICT_TRANSPORT_SECURITY: 'max-age=31536000; includeSubDomains' })
  const session = h2connect(stack.url, { ca: pki.ca })
  t.teardown(() => session.close())
  const { headers, body } = await h2get(session, '/some/page?q=1', { accept: 'application/json' })
  t.equal(headers[':status'], 200)
  t.equal(headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', 'HSTS on a proxied answer')
  t.same(JSON.parse(body), { upstream: 'recording', method: 'GET', url: '/some/page?q=1' })
  t.equal(session.alpnProtocol, 'h2')
  const seen = await upstream.waitFor(r => r.url === '/some/page?q=1')
  t.same(seen.rawHeaders.filter((_v, i) => i % 2 === 0).filter(n => n.startsWith(':')), [], 'no pseudo-header reaches the upstream')
  t.equal(seen.headers.host, new URL(stack.url).host, 'Host is the :authority the client asked for')
  t.equal(seen.headers['x-forwarded-proto'], 'https')
  t.equal(seen.headers['x-forwarded-host'], new URL(stack.url).host)

  const own = await h2get(session, '/.gatehouse/me', { accept: 'application/json' })
  t.equal(own.headers[':status'], 401, 'the gateway\'s own endpoints answer over HTTP/2 too')
  t.equal(own.headers['strict-transport-security'], 'max-age=31536000; includeSubDomains', 'HSTS on the gateway\'s own answer')
})

t.test('HTTP/1.1 for clients that ask for it, with the same limits; TLS 1.2 and 1.3 only', async t => {
  const { stack, pki, upstream } = await startTlsStack(t, { GATEHOUSE_LIMITS_MAX_HEADER_SIZE: '4KiB' })
  const res = await h1get(`${stack.url}/plain?x=1`, pki.ca, { accept: 'application/json' })
  t.equal(res.status, 200)
  t.equal((await h1get(`${stack.url}/big`, pki.ca, { 'x-big': 'a'.repeat(6000) })).status, 431, 'limits.max_header_size holds over TLS')
  t.equal(res.alpn, 'http/1.1')
  t.notOk(res.headers['strict-transport-security'], 'no HSTS unless configured')
  const seen = await upstream.waitFor(r => r.url === '/plain?x=1')
  t.equal(seen.headers.host, new URL(stack.url).host)
  t.equal(seen.headers['x-forwarded-proto'], 'https')

  const port = portOf(stack.url)
  t.equal((await handshake(port, { ca: pki.ca, maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2')
  t.equal((await handshake(port, { ca: pki.ca, minVersion: 'TLSv1.3' })).protocol, 'TLSv1.3')
  await t.rejects(handshake(port, { ca: pki.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }), 'TLS 1.1 is refused')
  // A plain-HTTP request to the HTTPS port gets no answer from the application.
  const plain = await new Promise<number | string>(resolve => {
    const req = httpRequest(`http://127.0.0.1:${port}/`, res => { res.resume(); resolve(res.statusCode ?? 0) })
    req.once('error', err => { resolve((err as NodeJS.ErrnoException).code ?? 'error') })
    req.end()
  })
  t.not(plain, 200, 'plain HTTP on the TLS port is not served')
  t.equal(upstream.seen.filter(r => r.url === '/').length, 0)
})

t.test('WebSockets over HTTP/1.1 on the TLS listener, checked against the https public URL', async t => {
  const { stack, pki, upstream } = await startTlsStack(t)
  const wsUrl = `${stack.url.replace(/^https/, 'wss')}/ws`
  const socket = await new Promise<WebSocket>((resolve, reject) => {
    const ws = new WebSocket(wsUrl, { ca: pki.ca, headers: { origin: stack.url } })
    ws.once('open', () => { resolve(ws) })
    ws.once('error', reject)
  })
  const reply = await new Promise<string>(resolve => {
    socket.once('message', data => { resolve(String(data)) })
    socket.send('over tls')
  })
  t.same(JSON.parse(reply), { user: null, echo: 'over tls' })
  socket.close()
  const seen = await upstream.waitFor(r => r.websocket)
  t.equal(seen.headers.origin, stack.url)
})

t.test('a renewed certificate is served to new connections while an open HTTP/2 connection keeps going', async t => {
  const { stack, pki, certDir } = await startTlsStack(t)
  const reload = stack.gateway.certificates
  if (reload === undefined) throw new Error('no certificate reload')
  const port = portOf(stack.url)
  t.equal((await handshake(port, { ca: pki.ca })).cert.subject.CN, 'first.example')

  const session = h2connect(stack.url, { ca: pki.ca })
  t.teardown(() => session.close())
  t.equal((await h2get(session, '/before')).headers[':status'], 200)

  const reloaded = new Promise(resolve => { const off = reload.onCheck(outcome => { if (outcome === 'reloaded') { off(); resolve(outcome) } }) })
  installVersion(certDir, 'v2', pki.server('second.example'))
  await reloaded
  t.equal(stack.logs.records().filter(r => r.event === 'tls.reloaded').length, 1, 'the reload is logged')

  t.equal((await handshake(port, { ca: pki.ca })).cert.subject.CN, 'second.example', 'a new connection gets the new certificate')
  t.equal((await h2get(session, '/after')).headers[':status'], 200, 'the open connection was not dropped')
  t.equal((session.socket as unknown as { getPeerCertificate: () => PeerCertificate }).getPeerCertificate().subject.CN, 'first.example', 'and still runs on the certificate it started with')
  t.equal(reload.check(), 'unchanged', 'reading the same files again changes nothing')
})

t.test('files that do not serve on reload leave the certificate in service, with a warning', async t => {
  const { stack, pki, certDir } = await startTlsStack(t)
  const reload = stack.gateway.certificates
  if (reload === undefined) throw new Error('no certificate reload')
  const port = portOf(stack.url)
  const other = pki.server('other.example')
  const cases: Array<[string, { cert: string, key: string }]> = [
    ['a key of another certificate', { cert: pki.server('mismatch.example').cert, key: other.key }],
    ['a truncated chain', { cert: other.cert.slice(0, 200), key: other.key }],
    ['an empty key file', { cert: other.cert, key: '' }],
  ]
  let version = 2
  for (const [name, files] of cases) {
    const refused = new Promise(resolve => { const off = reload.onCheck(outcome => { if (outcome === 'refused') { off(); resolve(outcome) } }) })
    installVersion(certDir, `v${version++}`, files)
    await refused
    t.equal((await handshake(port, { ca: pki.ca })).cert.subject.CN, 'first.example', `${name}: the old certificate is still served`)
  }
  const warnings = stack.logs.records().filter(r => r.event === 'tls.reload_refused')
  t.equal(warnings.length, cases.length, 'one warning per change that does not serve')
  t.match(String((warnings[0]?.problems as string[])[0]), /is not the private key of the certificate/)
  t.equal(warnings[0]?.level, 40, 'at warn level')
})

t.test('the redirect listener sends every request to the same path on public_url, whatever the Host', async t => {
  const redirectPort = await freePort()
  const { stack } = await startTlsStack(t, { GATEHOUSE_TLS_REDIRECT_LISTEN: `127.0.0.1:${redirectPort}`, GATEHOUSE_TLS_STRICT_TRANSPORT_SECURITY: 'max-age=600' })
  t.same(stack.gateway.redirectAddress, { host: '127.0.0.1', port: redirectPort })
  const ask = async (method: string, path: string, host: string): Promise<{ status: number, location: string | undefined, hsts: string | undefined }> => await new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: redirectPort, method, path, headers: { host } }, res => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, location: res.headers.location, hsts: res.headers['strict-transport-security'] as string | undefined })
    })
    req.once('error', reject)
    req.end()
  })
  t.same(await ask('GET', '/a/b?c=d', 'evil.example'), { status: 301, location: `${stack.url}/a/b?c=d`, hsts: undefined })
  t.same(await ask('POST', '/form', 'localhost'), { status: 308, location: `${stack.url}/form`, hsts: undefined })
  t.same(await ask('GET', '//evil.example/x', 'localhost'), { status: 301, location: `${stack.url}/`, hsts: undefined }, 'a scheme-relative target goes to the root')
})

t.test('a configuration whose TLS files do not serve stops the start with what is wrong', async t => {
  const pki = createTestPki(t)
  const good = pki.server()
  const other = pki.server('other.example')
  const garbage = join(pki.dir, 'garbage.pem')
  writeFileSync(garbage, 'not a certificate\n')
  const keyCopy = join(pki.dir, 'copy.key')
  copyFileSync(other.keyFile, keyCopy)
  const { loadConfig } = await import('../../src/config/load.js')
  const base = {
    GATEHOUSE_PUBLIC_URL: 'https://gate.example',
    GATEHOUSE_OIDC_ISSUER: 'https://idp.example',
    GATEHOUSE_OIDC_CLIENT_ID: 'c',
    GATEHOUSE_OIDC_CLIENT_SECRET: 's',
    GATEHOUSE_SESSION_SECRET: 'x'.repeat(32),
    GATEHOUSE_SIGNING_KEY_FILE: good.keyFile,
    GATEHOUSE_UPSTREAM_URL: 'http://127.0.0.1:9',
  }
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['a missing certificate file', { GATEHOUSE_TLS_CERT_FILE: join(pki.dir, 'nope.pem'), GATEHOUSE_TLS_KEY_FILE: good.keyFile }, /GATEHOUSE_TLS_CERT_FILE: tls\.cert_file: cannot read .*nope\.pem: ENOENT/],
    ['a file without a certificate', { GATEHOUSE_TLS_CERT_FILE: garbage, GATEHOUSE_TLS_KEY_FILE: good.keyFile }, /tls\.cert_file: .*garbage\.pem holds no PEM certificate/],
    ['a key without a certificate', { GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: garbage }, /tls\.key_file: .*garbage\.pem holds no usable PEM private key/],
    ['the key of another certificate', { GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: keyCopy }, /tls\.key_file: .*copy\.key is not the private key of the certificate in .* \(CN=localhost\)/],
    ['only the certificate', { GATEHOUSE_TLS_CERT_FILE: good.certFile }, /tls\.cert_file and tls\.key_file go together/],
    ['an http public_url', { GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: good.keyFile, GATEHOUSE_PUBLIC_URL: 'http://gate.example' }, /public_url must be https/],
    ['a client CA that is not one', { GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: good.keyFile, GATEHOUSE_TLS_CLIENT_CA_FILE: garbage }, /tls\.client_ca_file: .*garbage\.pem holds no PEM certificate/],
    ['client certificates required without a CA', { GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: good.keyFile, GATEHOUSE_TLS_CLIENT_CERTIFICATES: 'required' }, /required needs tls\.client_ca_file/],
    ['a redirect listener without TLS', { GATEHOUSE_TLS_REDIRECT_LISTEN: '0.0.0.0:80' }, /tls\.redirect_listen needs the gateway to serve HTTPS itself/],
    ['HSTS with an http public_url', { GATEHOUSE_TLS_STRICT_TRANSPORT_SECURITY: 'max-age=60', GATEHOUSE_PUBLIC_URL: 'http://gate.example' }, /strict_transport_security is sent only over HTTPS/],
  ]
  for (const [name, env, message] of cases) {
    t.throws(() => loadConfig({ env: { ...base, ...env } }), { name: 'ConfigError', message }, name)
  }
  const ok = loadConfig({ env: { ...base, GATEHOUSE_TLS_CERT_FILE: good.certFile, GATEHOUSE_TLS_KEY_FILE: good.keyFile } }).config
  t.match(ok.tls, { certFile: good.certFile, keyFile: good.keyFile, clientCaFile: undefined, redirectListen: undefined })
})

t.test('CONNECT is refused with 405 over HTTP/2 and HTTP/1.1 alike', async t => {
  const { stack, pki, upstream } = await startTlsStack(t)
  const session = h2connect(stack.url, { ca: pki.ca })
  t.teardown(() => session.close())
  const req = session.request({ ':method': 'CONNECT', ':authority': 'example.com:443' })
  let body = ''
  req.setEncoding('utf8')
  req.on('data', (c: string) => { body += c })
  const headers = await new Promise<H2Headers>((resolve, reject) => { req.once('response', resolve); req.once('error', reject) })
  await new Promise(resolve => req.once('end', resolve))
  t.equal(headers[':status'], 405)
  t.match(JSON.parse(body), { error: { code: 'GH_METHOD_NOT_ALLOWED' } })
  t.equal((await h2get(session, '/still-open')).headers[':status'], 200, 'the HTTP/2 connection goes on')

  const status = await new Promise<number>((resolve, reject) => {
    const r = httpsRequest(stack.url, { method: 'CONNECT', path: 'example.com:443', ca: pki.ca, agent: new Agent({ ALPNProtocols: ['http/1.1'] }) })
    r.once('connect', (res, socket) => { socket.destroy(); resolve(res.statusCode ?? 0) })
    r.once('error', reject)
    r.end()
  })
  t.equal(status, 405)
  t.equal(upstream.seen.filter(r => r.method === 'CONNECT').length, 0)
})

t.test('closing the gateway ends open HTTP/2 and HTTP/1.1 keep-alive connections', async t => {
  const { stack, pki } = await startTlsStack(t)
  const session = h2connect(stack.url, { ca: pki.ca })
  t.equal((await h2get(session, '/a')).headers[':status'], 200)
  const agent = new Agent({ ALPNProtocols: ['http/1.1'], keepAlive: true, ca: pki.ca })
  const { closed: socketClosed } = await new Promise<{ closed: Promise<unknown> }>((resolve, reject) => {
    const r = httpsRequest(`${stack.url}/b`, { agent }, res => {
      const closed = new Promise(done => res.socket.once('close', done))
      res.resume()
      res.once('end', () => { resolve({ closed }) })
    })
    r.once('error', reject)
    r.end()
  })
  const sessionClosed = new Promise(resolve => session.once('close', resolve))
  await stack.gateway.close()
  await Promise.all([sessionClosed, socketClosed])
  t.pass('both connections closed with the gateway')
  agent.destroy()
})
