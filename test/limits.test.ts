import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { connect, type Socket } from 'node:net'
import t, { type Test } from 'tap'
import { WebSocket } from 'ws'
import { policyDir } from './helpers/policy-files.js'
import { rawRequest } from './helpers/raw-http.js'
import { startStack } from './helpers/stack.js'

const portOf = (url: string): number => Number(new URL(url).port)

/** Writes `bytes` and collects everything the server sends until it closes the connection. */
async function untilServerCloses (port: number, bytes: string): Promise<{ data: string, closedByServer: boolean }> {
  const socket = connect(port, '127.0.0.1')
  let data = ''
  let ended = false
  socket.on('data', (chunk: Buffer) => { data += chunk.toString('latin1') })
  socket.on('end', () => { ended = true })
  socket.on('error', () => {})
  socket.write(bytes)
  await once(socket, 'close')
  return { data, closedByServer: ended || data !== '' }
}

function jsonBody (data: string): { error?: { code?: string } } {
  const start = data.indexOf('\r\n\r\n')
  return JSON.parse(data.slice(start + 4)) as { error?: { code?: string } }
}

t.test('headers larger than limits.max_header_size: 431 with a code, and smaller ones pass', async t => {
  const stack = await startStack(t, { redis: 'memory', env: { GATEHOUSE_LIMITS_MAX_HEADER_SIZE: '2KiB' } })
  t.equal((stack.gateway.app.server as { maxHeaderSize?: number }).maxHeaderSize, 2048)
  const port = portOf(stack.url)
  const big = await untilServerCloses(port, `GET /.gatehouse/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(4096)}\r\n\r\n`)
  t.match(big.data, /^HTTP\/1\.1 431 /)
  t.equal(jsonBody(big.data).error?.code, 'GH_HEADERS_TOO_LARGE')
  const small = await rawRequest(port, `GET /.gatehouse/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ${'a'.repeat(1024)}\r\nConnection: close\r\n\r\n`)
  t.equal(small.status, 200, 'a request under the limit is served')
  t.ok(stack.logs.records().some(r => r.event === 'request.unreadable' && (r.err as { code?: string } | undefined)?.code === 'HPE_HEADER_OVERFLOW'), 'logged')
})

t.test('bodies the gateway reads over limits.max_body_size: 413; proxied bodies are streamed whatever their size', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_LIMITS_MAX_BODY_SIZE: '1KiB' } })
  const post = async (body: string): Promise<Response> => await fetch(`${stack.url}/.gatehouse/backchannel-logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
  const tooLarge = await post(`logout_token=${'x'.repeat(2048)}`)
  t.equal(tooLarge.status, 413)
  t.equal((await tooLarge.json() as { error: { code: string } }).error.code, 'GH_BODY_TOO_LARGE')
  const small = await post('logout_token=not-a-token')
  t.equal(small.status, 400, 'a body under the limit is read (and the token refused)')

  const { browser } = await stack.signIn('alice', '/.gatehouse/login?return=/.gatehouse/healthz')
  const upload = 'y'.repeat(64 * 1024)
  const res = await fetch(`${stack.url}/api/upload`, { method: 'POST', headers: { accept: 'application/json', 'content-type': 'text/plain', cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}` }, body: upload })
  t.equal(res.status, 200)
  t.equal((await res.json() as { body: string }).body.length, upload.length, 'the upstream received the whole body')
})

t.test('a client that sends its headers slower than limits.headers_timeout gets 408 and is disconnected', async t => {
  const stack = await startStack(t, { redis: 'memory', env: { GATEHOUSE_LIMITS_HEADERS_TIMEOUT: '300ms' } })
  t.equal(stack.gateway.app.server.headersTimeout, 300)
  // The request line and one header, then nothing: the slowloris pattern.
  const { data, closedByServer } = await untilServerCloses(portOf(stack.url), 'GET /.gatehouse/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n')
  t.ok(closedByServer)
  t.match(data, /^HTTP\/1\.1 408 /)
  t.equal(jsonBody(data).error?.code, 'GH_REQUEST_TIMEOUT')
})

t.test('a client that sends its body slower than limits.request_timeout gets 408 and is disconnected', async t => {
  const stack = await startStack(t, { redis: 'memory', env: { GATEHOUSE_LIMITS_HEADERS_TIMEOUT: '200ms', GATEHOUSE_LIMITS_REQUEST_TIMEOUT: '400ms' } })
  t.equal(stack.gateway.app.server.requestTimeout, 400)
  const { data, closedByServer } = await untilServerCloses(portOf(stack.url), 'POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nlogout_tok')
  t.ok(closedByServer)
  t.match(data, /^HTTP\/1\.1 408 /)
  t.equal(jsonBody(data).error?.code, 'GH_REQUEST_TIMEOUT')
})

t.test('an idle keep-alive connection is closed after limits.keep_alive_timeout', async t => {
  const stack = await startStack(t, { redis: 'memory', env: { GATEHOUSE_LIMITS_KEEP_ALIVE_TIMEOUT: '1s' } })
  t.equal(stack.gateway.app.server.keepAliveTimeout, 1000)
  // One request on a keep-alive connection, then silence: the server, not the client, ends it.
  const { data, closedByServer } = await untilServerCloses(portOf(stack.url), 'GET /.gatehouse/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
  t.match(data, /^HTTP\/1\.1 200 /)
  t.match(data, /\r\nkeep-alive: timeout=1\r\n/i, 'the client is told the timeout')
  t.ok(closedByServer, 'closed by the server')
})

/** A port that accepts no connection: a listener whose process is stopped, its accept queue filled. */
async function blackHole (t: Test): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'require("net").createServer().listen({ host: "127.0.0.1", port: 0, backlog: 1 }, function () { console.log(this.address().port) })'], { stdio: ['ignore', 'pipe', 'inherit'] })
  const fillers: Socket[] = []
  t.teardown(() => {
    for (const s of fillers) s.destroy()
    child.kill('SIGKILL')
  })
  const [chunk] = await once(child.stdout, 'data') as [Buffer]
  const port = Number(chunk.toString().trim())
  child.kill('SIGSTOP')
  const filler = (): Socket => {
    const s = connect(port, '127.0.0.1')
    s.on('error', () => {})
    fillers.push(s)
    return s
  }
  // The kernel completes backlog + 1 handshakes on its own; later ones wait for an accept that never comes.
  await Promise.all([filler(), filler()].map(async s => await once(s, 'connect')))
  filler()
  filler()
  return port
}

t.test('an upstream that does not accept the connection: 504 after upstream.connect_timeout', async t => {
  const port = await blackHole(t)
  const { file } = policyDir(t, 'routes:\n  - name: open\n    match: { path: /** }\n    allow: anyone\n')
  const stack = await startStack(t, { redis: 'memory', env: { GATEHOUSE_POLICIES: file, GATEHOUSE_UPSTREAM_URL: `http://127.0.0.1:${port}`, GATEHOUSE_UPSTREAM_CONNECT_TIMEOUT: '300ms', GATEHOUSE_UPSTREAM_TIMEOUT: '10m' } })
  const res = await fetch(`${stack.url}/anything`, { headers: { accept: 'application/json' } })
  t.equal(res.status, 504)
  t.equal((await res.json() as { error: { code: string } }).error.code, 'GH_UPSTREAM_TIMEOUT')
  const failure = stack.logs.records().find(r => r.event === 'upstream.failed')
  t.equal((failure?.err as { detail?: string } | undefined)?.detail, 'UND_ERR_CONNECT_TIMEOUT', 'it was the connect timeout')
})

/** Opens a WebSocket; resolves with the socket once open, or with the refused upgrade's status and body. */
async function openWs (url: string, headers: Record<string, string>): Promise<{ socket?: WebSocket, status?: number, body?: string }> {
  return await new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.once('open', () => resolve({ socket }))
    socket.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }); socket.terminate() })
    })
    socket.once('error', reject)
  })
}

t.test('WebSockets beyond limits.max_websockets are refused with 503 until one closes', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_LIMITS_MAX_WEBSOCKETS: '2' } })
  const { browser } = await stack.signIn('alice')
  const headers = { cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`, origin: stack.url }
  const url = `${stack.url.replace(/^http/, 'ws')}/ws`
  const first = await openWs(url, headers)
  const second = await openWs(url, headers)
  t.ok(first.socket !== undefined && second.socket !== undefined, 'two open')
  const third = await openWs(url, headers)
  t.equal(third.status, 503)
  t.equal((JSON.parse(third.body ?? '{}') as { error: { code: string } }).error.code, 'GH_TOO_MANY_WEBSOCKETS')
  t.equal(stack.app.requests.filter(r => r.method === 'WEBSOCKET').length, 2, 'the refused one never reached the upstream')

  const freed = stack.logs.waitFor(r => r.event === 'websocket.closed')
  first.socket?.close()
  await freed
  const fourth = await openWs(url, headers)
  t.ok(fourth.socket, 'a slot is free again once a WebSocket closes')
  const reply = await new Promise<string>(resolve => {
    fourth.socket?.once('message', data => resolve(data.toString()))
    fourth.socket?.send('hi')
  })
  t.same(JSON.parse(reply), { user: 'alice', echo: 'hi' })
  for (const ws of [second.socket, fourth.socket]) ws?.close()
})

t.test('a refused unauthenticated upgrade does not take a WebSocket slot', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_LIMITS_MAX_WEBSOCKETS: '1' } })
  const url = `${stack.url.replace(/^http/, 'ws')}/ws`
  for (let i = 0; i < 3; i++) t.equal((await openWs(url, {})).status, 401)
  const { browser } = await stack.signIn('alice')
  const open = await openWs(url, { cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`, origin: stack.url })
  t.ok(open.socket, 'the one slot is still free')
  open.socket?.close()
})

t.test('an open WebSocket is not cut by limits.request_timeout, which is about receiving a request', async t => {
  const stack = await startStack(t, { env: { GATEHOUSE_LIMITS_HEADERS_TIMEOUT: '200ms', GATEHOUSE_LIMITS_REQUEST_TIMEOUT: '300ms' } })
  const { browser } = await stack.signIn('alice')
  const ws = await openWs(`${stack.url.replace(/^http/, 'ws')}/ws`, { cookie: `${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`, origin: stack.url })
  t.ok(ws.socket, 'open')
  // A request started after the handshake times out: the timeouts have been checked since the WebSocket opened.
  const slow = await untilServerCloses(portOf(stack.url), 'POST /.gatehouse/backchannel-logout HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\nx')
  t.match(slow.data, /^HTTP\/1\.1 408 /)
  const reply = await new Promise<string>(resolve => {
    ws.socket?.once('message', data => resolve(data.toString()))
    ws.socket?.once('close', () => resolve('closed'))
    ws.socket?.send('still here')
  })
  t.equal(reply, JSON.stringify({ user: 'alice', echo: 'still here' }), 'the WebSocket still works')
  ws.socket?.close()
})
