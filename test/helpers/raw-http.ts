import { connect } from 'node:net'

export interface RawResponse {
  status: number
  head: string
  body: string
}

/**
 * Sends bytes exactly as given over a TCP socket and reads the response, for
 * requests an HTTP client would normalise (header spellings, odd framing).
 * Resolves when the server closes the connection or after one response.
 */
export async function rawRequest (port: number, request: string, timeoutMs = 5000): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no complete response within ${timeoutMs}ms: ${JSON.stringify(data.slice(0, 200))}`)) }, timeoutMs)
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const end = data.indexOf('\r\n\r\n')
      const head = end === -1 ? data : data.slice(0, end)
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), head, body: end === -1 ? '' : data.slice(end + 4) })
    }
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
      const end = data.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = data.slice(0, end)
      const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
      if (length !== undefined && data.length - end - 4 >= Number(length)) finish()
      else if (/\r\ntransfer-encoding: *chunked/i.test(head) && data.endsWith('\r\n0\r\n\r\n')) finish()
    })
    socket.on('end', finish)
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.write(request)
  })
}

export interface RawExchange {
  /** Every response, in order. */
  responses: RawResponse[]
  /** Status of each response, in order. */
  statuses: number[]
  /** Everything read, as received (latin1). */
  text: string
}

/**
 * Writes the bytes as given (a string is sent as latin1) and reads until the
 * server closes the connection, for pipelined and malformed requests: end
 * the last request with `Connection: close`. Every response is parsed out
 * (Content-Length, chunked, or up to the close). Rejects if the server has
 * not closed within `timeoutMs`, with what it had read.
 */
export async function rawExchange (port: number, request: string | Buffer, timeoutMs = 10_000): Promise<RawExchange> {
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server did not close the connection within ${timeoutMs}ms; read: ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 300))}`))
    }, timeoutMs)
    const done = (): void => { clearTimeout(timer); socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) }
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', done)
    // A reset after the response was written still ends the exchange.
    socket.on('error', () => {})
    socket.write(typeof request === 'string' ? Buffer.from(request, 'latin1') : request)
  })
  const responses = parseResponses(text)
  return { responses, statuses: responses.map(r => r.status), text }
}

/** Splits a byte stream of HTTP/1.1 responses into responses. */
export function parseResponses (text: string): RawResponse[] {
  const out: RawResponse[] = []
  let at = 0
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at)
    if (end === -1) break
    const head = text.slice(at, end)
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0)
    let bodyStart = end + 4
    let body = ''
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
    if (status < 200 || status === 204 || status === 304) {
      body = ''
    } else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      let p = bodyStart
      for (;;) {
        const lineEnd = text.indexOf('\r\n', p)
        if (lineEnd === -1) { p = text.length; break }
        const size = parseInt(text.slice(p, lineEnd), 16)
        if (Number.isNaN(size)) { p = text.length; break }
        if (size === 0) { p = text.indexOf('\r\n\r\n', lineEnd) === -1 ? text.length : text.indexOf('\r\n\r\n', lineEnd) + 4; break }
        body += text.slice(lineEnd + 2, lineEnd + 2 + size)
        p = lineEnd + 2 + size + 2
      }
      bodyStart = p
    } else if (length !== undefined) {
      body = text.slice(bodyStart, bodyStart + Number(length))
      bodyStart += Number(length)
    } else {
      body = text.slice(bodyStart)
      bodyStart = text.length
    }
    out.push({ status, head, body })
    at = status < 200 || status === 204 || status === 304 ? end + 4 : bodyStart
  }
  return out
}

/**
 * Sends the bytes and resolves as soon as a response head has arrived (or
 * the server closed), then closes the socket: for upgrades, whose 101 has no
 * body and keeps the connection open.
 */
export async function rawHead (port: number, request: string, timeoutMs = 10_000): Promise<RawResponse> {
  return await new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const timer = setTimeout(() => { socket.destroy(); reject(new Error(`no response head within ${timeoutMs}ms: ${JSON.stringify(data.slice(0, 200))}`)) }, timeoutMs)
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const end = data.indexOf('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(data)?.[1] ?? 0), head: end === -1 ? data : data.slice(0, end), body: end === -1 ? '' : data.slice(end + 4) })
    }
    socket.on('data', (chunk: Buffer) => {
      data += chunk.toString('latin1')
      if (data.includes('\r\n\r\n')) finish()
    })
    socket.on('close', finish)
    socket.on('error', () => {})
    socket.write(Buffer.from(request, 'latin1'))
  })
}
