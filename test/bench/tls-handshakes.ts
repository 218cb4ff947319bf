/**
 * New TLS connections to a server for a fixed time, in a process of its own
 * (so that the client's work never shares an event loop with the server).
 * Each connection completes its handshake and is closed; `resume` offers
 * the session ticket the server last sent, as a returning client does
 * (stateless tickets: one serves many connections).
 * Reads its options as JSON from argv[2]; prints one JSON line.
 */
import { connect, type SecureVersion } from 'node:tls'

interface Options { port: number, ca: string, seconds: number, concurrency: number, resume: boolean, maxVersion?: SecureVersion }

const opts = JSON.parse(process.argv[2] ?? '{}') as Options
let session: Buffer | undefined
let handshakes = 0
let resumed = 0
let errors = 0
const end = performance.now() + opts.seconds * 1000

async function once (): Promise<void> {
  await new Promise<void>(resolve => {
    const socket = connect({
      host: '127.0.0.1',
      port: opts.port,
      servername: 'localhost',
      ca: opts.ca,
      ALPNProtocols: ['http/1.1'],
      ...(opts.maxVersion === undefined ? {} : { maxVersion: opts.maxVersion }),
      ...(opts.resume && session !== undefined ? { session } : {}),
    })
    // TLS 1.3 sends its tickets after the handshake: the connection stays until one arrives (or closes).
    socket.on('session', (ticket: Buffer) => {
      if (opts.resume) session = ticket
      socket.destroy()
    })
    socket.once('secureConnect', () => {
      handshakes++
      const reused = socket.isSessionReused()
      if (reused) resumed++
      // A resumed connection need not wait: the ticket it offered serves the next one too.
      if (reused || socket.getProtocol() !== 'TLSv1.3' || !opts.resume) socket.destroy()
    })
    socket.once('error', () => { errors++; socket.destroy() })
    socket.once('close', () => { resolve() })
  })
}

async function worker (): Promise<void> {
  while (performance.now() < end) await once()
}

const started = performance.now()
await Promise.all(Array.from({ length: opts.concurrency }, async () => { await worker() }))
const seconds = (performance.now() - started) / 1000
process.stdout.write(`${JSON.stringify({ handshakes, per_second: Math.round(handshakes / seconds), resumed, errors })}\n`)
