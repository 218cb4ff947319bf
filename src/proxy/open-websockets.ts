import type { Socket } from 'node:net'

/** RFC 6455 7.4.1: the endpoint received a message that violates its policy (here: the session ended). */
export const POLICY_VIOLATION = 1008
/** How long a client has to answer the close frame before its connection is cut. */
export const DEFAULT_CLOSE_GRACE_MS = 2000
const CLOSE_REASON = 'session ended'

/**
 * The WebSockets open through this gateway, by the session they were opened
 * with, so that they end with it. A socket is closed with a close frame
 * (1008, "session ended") written on its connection, as the server side of
 * the WebSocket would write it; the proxy then closes the upstream's side
 * when the client answers, and a client that does not answer within the
 * grace period has its connection cut.
 */
export class OpenWebSockets {
  readonly #bySession = new Map<string, Set<Socket>>()
  readonly #graceMs: number

  constructor (graceMs = DEFAULT_CLOSE_GRACE_MS) {
    this.#graceMs = graceMs
  }

  /** The sessions that have a WebSocket open now. */
  get sessions (): string[] {
    return [...this.#bySession.keys()]
  }

  has (session: string): boolean {
    return this.#bySession.has(session)
  }

  /** Keeps `socket` under `session` until its connection closes. */
  add (session: string, socket: Socket): void {
    let sockets = this.#bySession.get(session)
    if (sockets === undefined) {
      sockets = new Set()
      this.#bySession.set(session, sockets)
    }
    sockets.add(socket)
    socket.once('close', () => {
      const open = this.#bySession.get(session)
      open?.delete(socket)
      if (open?.size === 0) this.#bySession.delete(session)
    })
  }

  /** Closes every WebSocket of these sessions; resolves to how many were open. */
  close (sessions: Iterable<string>): number {
    let closed = 0
    for (const session of sessions) {
      const sockets = this.#bySession.get(session)
      if (sockets === undefined) continue
      this.#bySession.delete(session)
      for (const socket of sockets) {
        closeWithFrame(socket, this.#graceMs)
        closed++
      }
    }
    return closed
  }
}

/** Writes a server close frame (unmasked, RFC 6455 5.5.1) and cuts the connection if the close does not complete in time. */
function closeWithFrame (socket: Socket, graceMs: number): void {
  if (socket.destroyed) return
  const reason = Buffer.from(CLOSE_REASON)
  const frame = Buffer.alloc(4 + reason.length)
  frame[0] = 0x88
  frame[1] = 2 + reason.length
  frame.writeUInt16BE(POLICY_VIOLATION, 2)
  reason.copy(frame, 4)
  // The WebSocket library writes each frame in one go, so this frame never lands inside another.
  socket.write(frame)
  const cut = setTimeout(() => { socket.destroy() }, graceMs)
  cut.unref()
  socket.once('close', () => { clearTimeout(cut) })
}
