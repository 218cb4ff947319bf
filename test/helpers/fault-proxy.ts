import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'

/**
 * What the proxy does with connections:
 * - pass: forwards bytes both ways to the target;
 * - reset: accepts and resets at once (ECONNRESET);
 * - hangup: reads the request and closes without answering;
 * - garbage: answers the request with bytes that are not HTTP, then closes;
 * - blackhole: accepts, reads, never answers, never closes.
 */
export type FaultMode = 'pass' | 'reset' | 'hangup' | 'garbage' | 'blackhole'

interface Teardown { teardown (fn: () => unknown): void }

/**
 * A TCP proxy in front of a real server, whose behaviour a test switches to
 * inject faults: the server going away, resetting, hanging up, answering
 * garbage or never answering. Switching mode drops every open connection,
 * as a crash would, so pooled keep-alive connections do not hide the fault.
 */
export class FaultProxy {
  readonly port: number
  target: { host: string, port: number }
  #mode: FaultMode = 'pass'
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  /** Connections accepted, by the mode they met. */
  readonly accepted: Record<FaultMode, number> = { pass: 0, reset: 0, hangup: 0, garbage: 0, blackhole: 0 }

  private constructor (server: Server, target: { host: string, port: number }) {
    this.#server = server
    this.port = (server.address() as AddressInfo).port
    this.target = target
  }

  static async start (t: Teardown, target: { host: string, port: number } = { host: '127.0.0.1', port: 0 }): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined
    const server = createServer(socket => { proxy?.handle(socket) })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    proxy = new FaultProxy(server, target)
    const made = proxy
    t.teardown(() => made.close())
    return made
  }

  get url (): string {
    return `http://127.0.0.1:${this.port}`
  }

  get mode (): FaultMode {
    return this.#mode
  }

  /** Switches behaviour; every connection open so far is dropped. */
  set mode (mode: FaultMode) {
    this.#mode = mode
    for (const socket of this.#sockets) socket.destroy()
    this.#sockets.clear()
  }

  handle (socket: Socket): void {
    const mode = this.#mode
    this.accepted[mode]++
    this.#track(socket)
    socket.on('error', () => {})
    switch (mode) {
      case 'pass': {
        const upstream = connect(this.target.port, this.target.host)
        this.#track(upstream)
        upstream.on('error', () => socket.destroy())
        socket.on('close', () => upstream.destroy())
        upstream.on('close', () => socket.destroy())
        socket.pipe(upstream)
        upstream.pipe(socket)
        return
      }
      case 'reset':
        socket.resetAndDestroy()
        return
      case 'hangup':
        socket.once('data', () => socket.end())
        return
      case 'garbage':
        socket.once('data', () => socket.end('SSH-2.0-OpenSSH_9.6\r\n\r\n\x00\x01\x02'))
        return
      case 'blackhole':
        socket.resume()
    }
  }

  #track (socket: Socket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
  }

  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }
}
