import type { ServerHttp2Session } from 'node:http2'
import type { Server as TlsServer } from 'node:tls'
import type { FastifyInstance } from 'fastify'
import type { GatewayConfig } from '../config/types.js'
import type { Logger } from '../log/logger.js'
import { CertificateReload } from '../tls/certificate-reload.js'
import type { TlsMaterial } from '../tls/tls-files.js'
import { createHttpsRedirect } from './https-redirect.js'
import { secureContextOptions } from './public-listener.js'

/** The HTTPS listener's parts besides the server itself, started and stopped with the gateway. */
export interface TlsListener {
  /** The certificate in service and its reload; undefined without tls.cert_file. */
  readonly certificates: CertificateReload | undefined
  /** The redirect listener's bound address once listening; undefined when off. */
  readonly redirectAddress: { host: string, port: number } | undefined
  /** After the public listener: watches the certificate files, opens the redirect listener. */
  listen: () => Promise<void>
  /** When the gateway starts closing: open HTTP/2 connections finish their streams and go (GOAWAY). */
  closeSessions: () => void
  close: () => Promise<void>
}

/**
 * What HTTPS adds to the public listener: the certificate reload (new
 * handshakes get the new certificate, open connections keep theirs) and the
 * plain-HTTP listener that only redirects to public_url.
 */
export function tlsListener (app: FastifyInstance, config: GatewayConfig, tls: TlsMaterial | undefined, log: Logger): TlsListener {
  const settings = config.tls
  if (settings === undefined || tls === undefined) return { certificates: undefined, redirectAddress: undefined, listen: async () => {}, closeSessions: () => {}, close: async () => {} }
  const server = app.server as unknown as TlsServer
  // Open HTTP/2 connections, told to finish their streams and go (GOAWAY) when the gateway closes: the
  // server would otherwise wait for each to time out idle (Fastify's own list misses server sessions).
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => { sessions.delete(session) })
  })
  const certificates = new CertificateReload({
    paths: settings,
    current: tls,
    apply: material => { server.setSecureContext(secureContextOptions(material)) },
    log: log.child({ module: 'tls' }),
  })
  const redirect = settings.redirectListen === undefined ? undefined : createHttpsRedirect(config.publicUrl)
  let redirectAddress: { host: string, port: number } | undefined
  return {
    certificates,
    get redirectAddress () { return redirectAddress },
    closeSessions () {
      for (const session of sessions) session.close()
    },
    async listen () {
      certificates.start()
      if (redirect === undefined || settings.redirectListen === undefined) return
      const { host, port } = settings.redirectListen
      await new Promise<void>((resolve, reject) => {
        redirect.once('error', (err) => {
          err.message = `redirect listener (tls.redirect_listen ${host.includes(':') ? `[${host}]` : host}:${port}): ${err.message}`
          reject(err)
        })
        redirect.listen(port, host, () => { resolve() })
      })
      const address = redirect.address()
      if (address !== null && typeof address !== 'string') redirectAddress = { host: address.address, port: address.port }
    },
    async close () {
      certificates.stop()
      if (redirect?.listening !== true) return
      redirect.closeAllConnections()
      await new Promise<void>(resolve => { redirect.close(() => { resolve() }) })
    },
  }
}
