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
