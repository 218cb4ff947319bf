import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

interface Teardown { teardown (fn: () => unknown): void }

/** A certificate and its key, as PEM files in the test's folder and as text. */
export interface Issued {
  certFile: string
  keyFile: string
  cert: string
  key: string
}

export interface TestPki {
  dir: string
  /** The CA's certificate (PEM text and file). */
  caFile: string
  ca: string
  /** A server certificate for localhost and 127.0.0.1, signed by the CA; `cn` tells two apart. */
  server (cn?: string): Issued
  /** A client certificate signed by this CA, with these SANs (openssl subjectAltName syntax, e.g. `DNS:svc.internal,URI:spiffe://x/y`). */
  client (cn: string, san?: string): Issued
}

function openssl (args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/**
 * A throwaway certificate authority made at test time with the openssl
 * command (EC P-256 keys, one day of validity); its folder is removed by
 * t.teardown. No private key is ever committed.
 */
export function createTestPki (t: Teardown, name = 'Gatehouse Test CA'): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pki-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let serial = 0
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  const issue = (base: string, subject: string, extensions: string): Issued => {
    serial++
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', subject], dir)
    writeFileSync(join(dir, `${base}.ext`), extensions)
    openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', String(1000 + serial), '-days', '1', '-out', `${base}.pem`, '-extfile', `${base}.ext`], dir)
    return { certFile: join(dir, `${base}.pem`), keyFile: join(dir, `${base}.key`), cert: readFileSync(join(dir, `${base}.pem`), 'utf8'), key: readFileSync(join(dir, `${base}.key`), 'utf8') }
  }
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    server: (cn = 'localhost') => issue(`server-${serial + 1}`, `/CN=${cn}`, 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n'),
    client: (cn, san) => issue(`client-${serial + 1}`, `/O=Example/CN=${cn}`, `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n${san === undefined ? '' : `subjectAltName=${san}\n`}`),
  }
}
