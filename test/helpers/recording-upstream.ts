import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'

/** One request as the upstream received it. */
export interface SeenRequest {
  method: string
  url: string
  headers: IncomingHttpHeaders
  /** Names and values exactly as received, in order: [name, value, name, value, ...]. */
  rawHeaders: string[]
  /** The body, byte for byte (latin1). */
  body: string
  /** True for a WebSocket handshake (method WEBSOCKET); other upgrade attempts are recorded with method UPGRADE. */
  websocket: boolean
}

export interface RecordingUpstream {
  url: string
  /** Every request received, in order. */
  seen: SeenRequest[]
  /** Every value received under a header name, compared after folding case (and, when `fold` is set, removing every character that is not a letter or digit). */
  values (request: SeenRequest, name: string, fold?: boolean): string[]
  /** Resolves with the first recorded request (already seen, or to come) that matches. */
  waitFor (match: (r: SeenRequest) => boolean): Promise<SeenRequest>
  close (): Promise<void>
}

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A real HTTP and WebSocket server that records everything that reaches it
 * (raw header lines included) and answers 200 with JSON (plus the response
 * headers named by `?set=Name:Value`). Stopped by t.teardown.
 */
export async function startRecordingUpstream (t: Teardown): Promise<RecordingUpstream> {
  const seen: SeenRequest[] = []
  let waiters: Array<{ match: (r: SeenRequest) => boolean, resolve: (r: SeenRequest) => void }> = []
  const record = (r: SeenRequest): void => {
    seen.push(r)
    waiters = waiters.filter(w => {
      if (!w.match(r)) return true
      w.resolve(r)
      return false
    })
  }
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const seenRequest: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: Buffer.concat(chunks).toString('latin1'), websocket: false }
      record(seenRequest)
      // `?set=Name:Value` (repeatable) adds a response header, for tests of what the gateway passes back.
      const extra = new URL(seenRequest.url, 'http://upstream').searchParams.getAll('set').map(h => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1)] as const)
      res.writeHead(200, [['content-type', 'application/json'], ...extra].flat())
      res.end(req.method === 'HEAD' ? undefined : JSON.stringify({ upstream: 'recording', method: seenRequest.method, url: seenRequest.url }))
    })
  })
  server.on('connection', socket => { sockets.add(socket); socket.once('close', () => sockets.delete(socket)) })
  const wss = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    // Every upgrade attempt is recorded, WebSocket or not (an h2c upgrade reaching an upstream is a tunnel past the gateway).
    const websocket = String(req.headers.upgrade).toLowerCase() === 'websocket'
    record({ method: websocket ? 'WEBSOCKET' : 'UPGRADE', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, body: '', websocket })
    wss.handleUpgrade(req, socket, head, ws => {
      ws.on('message', data => ws.send(JSON.stringify({ user: req.headers['x-gatehouse-user'] ?? null, echo: data.toString() })))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const close = async (): Promise<void> => {
    for (const client of wss.clients) client.terminate()
    wss.close()
    for (const s of sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }
  t.teardown(close)
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    values (request, name, fold = false) {
      const norm = (n: string): string => fold ? n.toLowerCase().replace(/[^a-z0-9]/gu, '') : n.toLowerCase()
      const wanted = norm(name)
      const out: string[] = []
      for (let i = 0; i + 1 < request.rawHeaders.length; i += 2) {
        if (norm(request.rawHeaders[i] ?? '') === wanted) out.push(request.rawHeaders[i + 1] ?? '')
      }
      return out
    },
    async waitFor (match) {
      const known = seen.find(match)
      if (known !== undefined) return known
      return await new Promise(resolve => waiters.push({ match, resolve }))
    },
    close,
  }
}
