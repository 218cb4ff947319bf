import { readdirSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Ajv } from 'ajv'
import { schemaProblems } from '../config/schema-problems.js'
import { readYamlFile } from '../config/yaml-source.js'
import type { Problem } from '../errors.js'
import { describedCertificate } from '../identify/client-certificate.js'
import type { ClientCertificate, Identity } from '../identify/identity.js'
import { parseAddress, type Address } from '../net/address.js'
import { TEST_FILE } from '../policy/load-policy.js'
import { TEST_SCHEMA, type EXPECTED_DECISIONS } from '../policy/test-schema.js'

/** The client address of a case that names none: this machine, as for `gatehouse explain`. */
export const DEFAULT_TEST_IP = '127.0.0.1'

export type ExpectedDecision = typeof EXPECTED_DECISIONS[number]

/** One case of a test file, ready to decide. */
export interface PolicyTestCase {
  readonly name: string
  /** file:line of the case. */
  readonly where: string
  readonly method: string
  readonly url: string
  readonly clientIp: Address
  readonly upgrade: boolean
  /** The `Origin` header, and the origin of an absolute URL, which stands for public_url's. */
  readonly origin: string | undefined
  readonly publicOrigin: string | undefined
  readonly identity: Identity | undefined
  readonly credential: 'session' | 'bearer'
  /** The verified client certificate the request comes with. */
  readonly clientCertificate: ClientCertificate | undefined
  readonly expect: { readonly decision: ExpectedDecision, readonly route?: string, readonly reason?: string, readonly upstream?: string, readonly rule?: string }
}

interface RawCase {
  name: string
  request: { method?: string, url: string, ip?: string, headers?: Record<string, string> }
  certificate?: RawCertificate
  identity?: { user: string, email?: string, groups?: string[], roles?: string[], amr?: string[], acr?: string, scopes?: string[], client_id?: string, kind?: 'application', tenant?: string, claims?: Record<string, unknown>, credentials?: 'session' | 'bearer' }
  expect: ExpectedDecision | PolicyTestCase['expect']
}

interface RawCertificate { subject: string, issuer?: string, san_dns?: string[], san_uri?: string[], san_email?: string[] }

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true })
const validate = ajv.compile(TEST_SCHEMA)

/**
 * The test files named: files as given, folders for their `*.test.yaml`
 * files in name order. Without names, those of the policy folder (or of the
 * folder holding the policy file).
 */
export function testFilePaths (names: readonly string[], policies: string | undefined, problems: Problem[]): string[] {
  const roots = names.length > 0 ? names : policies === undefined ? [] : [isDirectory(policies) ? policies : dirname(policies)]
  const files: string[] = []
  for (const root of roots) {
    let stat
    try {
      stat = statSync(root)
    } catch (err) {
      problems.push({ where: root, message: `cannot read the tests: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, severity: 'error' })
      continue
    }
    if (!stat.isDirectory()) files.push(root)
    else files.push(...readdirSync(root).filter(f => TEST_FILE.test(f) && !f.startsWith('.')).sort().map(f => join(root, f)))
  }
  if (files.length === 0 && problems.length === 0) problems.push({ where: roots.join(', ') || '(no policy folder)', message: 'no *.test.yaml test files found', severity: 'error' })
  return files
}

function isDirectory (path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

/** Reads and checks test files; every problem is reported with file:line:col. */
export function loadTestFiles (files: readonly string[]): { cases: PolicyTestCase[], problems: Problem[] } {
  const cases: PolicyTestCase[] = []
  const problems: Problem[] = []
  for (const file of files) {
    const parsed = readYamlFile(file, problems)
    if (parsed === undefined) continue
    const value = parsed.source.value ?? {}
    if (!validate(value)) {
      problems.push(...schemaProblems(validate.errors ?? [], parsed.source.locate))
      continue
    }
    const raw = (value as { cases: RawCase[] }).cases
    raw.forEach((c, i) => {
      const at = (...path: Array<string | number>): string => parsed.source.locate(['cases', i, ...path])
      const clientIp = parseAddress(c.request.ip ?? DEFAULT_TEST_IP)
      if (clientIp === undefined) {
        problems.push({ where: at('request', 'ip'), message: `request.ip: "${c.request.ip ?? ''}" is not an IP address`, severity: 'error' })
        return
      }
      if (/^https?:\/\//i.test(c.request.url) && !URL.canParse(c.request.url)) {
        problems.push({ where: at('request', 'url'), message: `request.url: "${c.request.url}" is not a valid URL`, severity: 'error' })
        return
      }
      const headers = Object.fromEntries(Object.entries(c.request.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]))
      const host = headers.host
      const url = host !== undefined && c.request.url.startsWith('/') ? `http://${host}${c.request.url}` : c.request.url
      cases.push({
        name: c.name,
        where: at().replace(/:\d+$/, ''),
        method: (c.request.method ?? 'GET').toUpperCase(),
        url,
        clientIp,
        upgrade: headers.upgrade !== undefined,
        origin: headers.origin,
        publicOrigin: /^https?:\/\//i.test(url) ? new URL(url).origin : undefined,
        identity: c.identity === undefined ? undefined : testIdentity(c.identity),
        credential: c.identity?.credentials ?? 'session',
        clientCertificate: c.certificate === undefined ? undefined : describedCertificate({ subject: c.certificate.subject, issuer: c.certificate.issuer, dns: c.certificate.san_dns, uris: c.certificate.san_uri, emails: c.certificate.san_email }, 'test'),
        expect: typeof c.expect === 'string' ? { decision: c.expect } : c.expect,
      })
    })
  }
  return { cases, problems }
}

function testIdentity (raw: NonNullable<RawCase['identity']>): Identity {
  return Object.freeze({
    id: raw.user,
    ...(raw.kind === undefined ? {} : { kind: raw.kind }),
    ...(raw.tenant === undefined ? {} : { tenant: raw.tenant }),
    ...(raw.scopes === undefined ? {} : { scopes: raw.scopes }),
    ...(raw.client_id === undefined ? {} : { clientId: raw.client_id }),
    issuer: 'gatehouse-test',
    subject: raw.user,
    name: undefined,
    email: raw.email,
    groups: raw.groups ?? [],
    roles: raw.roles ?? [],
    amr: raw.amr ?? [],
    acr: raw.acr,
    sid: undefined,
    claims: { ...(raw.claims ?? {}), ...(raw.tenant === undefined ? {} : { tid: raw.tenant }) },
  })
}
