import t from 'tap'
import { WebSocket } from 'ws'
import { startStack } from './helpers/stack.js'

function wsUrl (httpUrl: string, path: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}${path}`
}

/** Opens a WebSocket; resolves with the socket once open, or with the HTTP status of a refused upgrade. */
async function open (url: string, headers: Record<string, string> = {}): Promise<{ socket?: WebSocket, status?: number }> {
  return await new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers })
    socket.once('open', () => resolve({ socket }))
    socket.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0 }); socket.terminate() })
    socket.once('error', reject)
  })
}

t.test('a WebSocket upgrade without a session is refused before reaching the upstream', async t => {
  const stack = await startStack(t)
  const result = await open(wsUrl(stack.url, '/ws'))
  t.equal(result.status, 401)
  const forged = await open(wsUrl(stack.url, '/ws'), { cookie: `${stack.gateway.cookies.session}=forged.value`, 'x-gatehouse-user': 'admin' })
  t.equal(forged.status, 401, 'a forged cookie does not open it either')
  t.equal(stack.app.requests.filter(r => r.method === 'WEBSOCKET').length, 0, 'the upstream saw no upgrade')
})

t.test('a WebSocket with a valid session reaches the upstream with the identity and without gateway cookies', async t => {
  const stack = await startStack(t)
  const { browser } = await stack.signIn('alice')
  const cookie = `app=1; ${stack.gateway.cookies.session}=${stack.sessionCookie(browser) ?? ''}`
  const { socket } = await open(wsUrl(stack.url, '/ws'), { cookie, 'X-Gatehouse-User': 'mallory', origin: stack.url })
  t.ok(socket, 'opened')
  const reply = await new Promise<string>(resolve => {
    socket?.once('message', data => resolve(data.toString()))
    socket?.send('hello')
  })
  t.same(JSON.parse(reply), { user: 'alice', echo: 'hello' })
  socket?.close()
  const upgrade = stack.app.requests.find(r => r.method === 'WEBSOCKET')
  t.equal(upgrade?.headers['x-gatehouse-user'], 'alice')
  t.ok(upgrade?.headers['x-gatehouse-assertion'], 'assertion sent on the upgrade')
  t.equal(upgrade?.headers.cookie, 'app=1', 'only the app\'s cookie is forwarded')
  t.equal(upgrade?.headers.origin, stack.url)
})
