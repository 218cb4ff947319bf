import { createServer, type Server } from 'node:http'

/**
 * The plain-HTTP listener of tls.redirect_listen: every request is sent to
 * the same path on public_url (301 for GET and HEAD, 308 for the rest, which
 * keeps the method and body). Nothing else is served: no route, no
 * session, no cookie. The target's origin is always public_url, never the
 * client's Host header, so the listener cannot redirect anywhere else.
 * Strict-Transport-Security is not sent here: over plain HTTP it means
 * nothing (RFC 6797, 8.1).
 */
export function createHttpsRedirect (publicUrl: string): Server {
  return createServer((req, res) => {
    const target = req.url !== undefined && req.url.startsWith('/') && !req.url.startsWith('//') ? req.url : '/'
    const status = req.method === 'GET' || req.method === 'HEAD' ? 301 : 308
    res.writeHead(status, { location: `${publicUrl}${target}`, 'content-type': 'text/plain; charset=utf-8', connection: 'close' })
    res.end(req.method === 'HEAD' ? undefined : `Moved to ${publicUrl}${target}\n`)
  })
}
