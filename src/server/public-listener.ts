import type { SecureServerOptions } from 'node:http2'
import type { FastifyHttpOptions, FastifyHttp2SecureOptions } from 'fastify'
import type { GatewayConfig, TlsSettings } from '../config/types.js'
import { ConfigError } from '../errors.js'
import { readTlsFiles, type TlsMaterial } from '../tls/tls-files.js'

type Limits = GatewayConfig['limits']

/** Only these: TLS 1.0 and 1.1 are refused at the handshake. */
const MIN_TLS_VERSION = 'TLSv1.2' as const
/** HTTP/2 first, HTTP/1.1 for clients that ask for it (and WebSockets, which HTTP/1.1 carries). */
const ALPN_PROTOCOLS = ['h2', 'http/1.1']

/** The certificate files as they are now; a ConfigError naming the file and what is wrong with it. */
export function readTlsMaterial (tls: TlsSettings): TlsMaterial {
  const read = readTlsFiles(tls)
  if (!read.ok) throw new ConfigError(read.problems.map(p => ({ where: `tls.${p.key}`, message: p.message, severity: 'error' })))
  return read.material
}

/** Node's secure context options for this material; what a certificate reload hands setSecureContext() too. */
export function secureContextOptions (material: TlsMaterial): { cert: string, key: string, ca?: string, minVersion: 'TLSv1.2' } {
  return { cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }), minVersion: MIN_TLS_VERSION }
}

/**
 * Node's limits on what a client sends, the same over plain HTTP/1.1 and
 * over the HTTPS listener's HTTP/1.1 (HTTP/2 has its own: the header list size).
 */
function http1Limits (limits: Limits): { maxHeaderSize: number, headersTimeout: number, requestTimeout: number, keepAliveTimeout: number, connectionsCheckingInterval: number } {
  return {
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // Node checks the two timeouts every 30 s by default: often enough for the configured values to hold.
    connectionsCheckingInterval: Math.min(5000, Math.max(50, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4))),
  }
}

/**
 * The Fastify server options of the public listener: plain HTTP/1.1, or,
 * with tls.cert_file, HTTPS with HTTP/2 by ALPN and HTTP/1.1 for clients
 * that want it, TLS 1.2 and 1.3 only, and client certificates asked for
 * when tls.client_ca_file is set. An optional client certificate that does
 * not verify still lets the connection through: it simply never counts
 * (identify/client-certificate.ts reads only verified ones).
 */
export function publicListenerOptions (config: GatewayConfig, material: TlsMaterial | undefined): FastifyHttpOptions<never> | FastifyHttp2SecureOptions<never> {
  const { limits } = config
  const common = { keepAliveTimeout: limits.keepAliveTimeoutMs, requestTimeout: limits.requestTimeoutMs }
  if (config.tls === undefined || material === undefined) return { ...common, http: http1Limits(limits) } as FastifyHttpOptions<never>
  const clientCa = config.tls.clientCaFile !== undefined
  const https: SecureServerOptions = {
    ...secureContextOptions(material),
    allowHTTP1: true,
    ALPNProtocols: ALPN_PROTOCOLS,
    requestCert: clientCa,
    rejectUnauthorized: clientCa && config.tls.clientCertificates === 'required',
    settings: { maxHeaderListSize: limits.maxHeaderSize },
  }
  return { ...common, http2: true, https, http2SessionTimeout: limits.keepAliveTimeoutMs } as unknown as FastifyHttp2SecureOptions<never>
}

/**
 * The HTTP/1.1 limits of an HTTPS listener, which Node reads from the server
 * object (its constructor takes them only for plain HTTP): set before listening.
 */
export function applyHttp1Limits (server: object, limits: Limits): void {
  Object.assign(server, http1Limits(limits))
}
