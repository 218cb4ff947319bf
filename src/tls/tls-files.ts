import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createSecureContext } from 'node:tls'

/** The files tls.* names: the certificate chain and its key, and the CAs client certificates are checked against. */
export interface TlsPaths {
  readonly certFile: string
  readonly keyFile: string
  readonly clientCaFile: string | undefined
}

/** What the files held, checked: PEM text for Node's secure context and what the logs say of it. */
export interface TlsMaterial {
  readonly cert: string
  readonly key: string
  readonly ca: string | undefined
  /** SHA-256 of the leaf certificate (hex, colon-separated as openssl prints it). */
  readonly fingerprint: string
  readonly subject: string
  readonly notAfter: string
  /** SHA-256 of the three files' contents: the same digest means nothing changed. */
  readonly digest: string
}

/** A file that cannot serve: which key names it and why. */
export interface TlsFileProblem {
  readonly key: 'cert_file' | 'key_file' | 'client_ca_file'
  readonly message: string
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

function readText (path: string, key: TlsFileProblem['key'], problems: TlsFileProblem[]): string | undefined {
  try {
    const text = readFileSync(path, 'utf8')
    if (text.trim() === '') problems.push({ key, message: `${path} is empty` })
    return text
  } catch (err) {
    problems.push({ key, message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` })
    return undefined
  }
}

/** The PEM certificates of a file, each parsed; a problem for a file with none or one that does not parse. */
function certificatesIn (text: string, path: string, key: TlsFileProblem['key'], problems: TlsFileProblem[]): X509Certificate[] {
  const blocks = text.match(PEM_CERTIFICATE) ?? []
  if (blocks.length === 0) {
    problems.push({ key, message: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` })
    return []
  }
  const certs: X509Certificate[] = []
  blocks.forEach((block, i) => {
    try {
      certs.push(new X509Certificate(block))
    } catch (err) {
      problems.push({ key, message: `${path}: certificate ${i + 1} does not parse: ${(err as Error).message}` })
    }
  })
  return certs
}

/**
 * Reads and checks the certificate chain, its private key and the client CA
 * file: each parses, the key belongs to the first certificate, and Node
 * accepts them together. Either the material, or every problem found.
 */
export function readTlsFiles (paths: TlsPaths): { ok: true, material: TlsMaterial } | { ok: false, problems: TlsFileProblem[] } {
  const problems: TlsFileProblem[] = []
  const cert = readText(paths.certFile, 'cert_file', problems)
  const key = readText(paths.keyFile, 'key_file', problems)
  const ca = paths.clientCaFile === undefined ? undefined : readText(paths.clientCaFile, 'client_ca_file', problems)
  if (problems.length > 0 || cert === undefined || key === undefined) return { ok: false, problems }

  const chain = certificatesIn(cert, paths.certFile, 'cert_file', problems)
  if (ca !== undefined && paths.clientCaFile !== undefined) certificatesIn(ca, paths.clientCaFile, 'client_ca_file', problems)
  let privateKey: KeyObject | undefined
  try {
    privateKey = createPrivateKey(key)
  } catch (err) {
    problems.push({ key: 'key_file', message: `${paths.keyFile} holds no usable PEM private key: ${(err as Error).message}` })
  }
  const leaf = chain[0]
  if (leaf !== undefined && privateKey !== undefined && !leaf.checkPrivateKey(privateKey)) {
    problems.push({ key: 'key_file', message: `${paths.keyFile} is not the private key of the certificate in ${paths.certFile} (${leaf.subject.replace(/\n/g, ', ')})` })
  }
  if (leaf !== undefined && Date.parse(leaf.validTo) < Date.now()) {
    problems.push({ key: 'cert_file', message: `the certificate in ${paths.certFile} expired on ${leaf.validTo}` })
  }
  if (problems.length > 0 || leaf === undefined) return { ok: false, problems }
  try {
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) })
  } catch (err) {
    problems.push({ key: 'cert_file', message: `${paths.certFile} and ${paths.keyFile} are refused by TLS: ${(err as Error).message}` })
    return { ok: false, problems }
  }
  const digest = createHash('sha256').update(cert).update('\0').update(key).update('\0').update(ca ?? '').digest('hex')
  return {
    ok: true,
    material: { cert, key, ca, fingerprint: leaf.fingerprint256, subject: leaf.subject.replace(/\n/g, ', '), notAfter: leaf.validTo, digest },
  }
}
