import { dnAttributes, type ClientCertificate } from '../../identify/client-certificate.js'
import { criterion, STRING_LIST } from './criterion.js'

/** What a `client_certificate` entry requires: every test written holds (each is any of its values). */
export interface CertificateTest {
  readonly subject?: ReadonlyArray<ReadonlySet<string>>
  readonly subjectCn?: readonly string[]
  readonly issuer?: ReadonlyArray<ReadonlySet<string>>
  readonly issuerCn?: readonly string[]
  readonly sanDns?: readonly string[]
  readonly sanUri?: readonly string[]
  readonly sanEmail?: readonly string[]
  /** As written, for explanations. */
  readonly text: string
}

type RawTest = Partial<Record<'subject' | 'subject_cn' | 'issuer' | 'issuer_cn' | 'san_dns' | 'san_uri' | 'san_email', readonly string[]>>

function sameDn (wanted: ReadonlySet<string>, actual: string): boolean {
  const have = dnAttributes(actual)
  return have.size === wanted.size && [...wanted].every(a => have.has(a))
}

function holds (t: CertificateTest, cert: ClientCertificate): boolean {
  return (t.subject === undefined || t.subject.some(dn => sameDn(dn, cert.subject))) &&
    (t.subjectCn === undefined || (cert.subjectCn !== undefined && t.subjectCn.includes(cert.subjectCn))) &&
    (t.issuer === undefined || t.issuer.some(dn => sameDn(dn, cert.issuer))) &&
    (t.issuerCn === undefined || (cert.issuerCn !== undefined && t.issuerCn.includes(cert.issuerCn))) &&
    (t.sanDns === undefined || cert.dns.some(d => t.sanDns?.includes(d) === true)) &&
    (t.sanUri === undefined || cert.uris.some(u => t.sanUri?.includes(u) === true)) &&
    (t.sanEmail === undefined || cert.emails.some(e => t.sanEmail?.includes(e.toLowerCase()) === true))
}

/**
 * `client_certificate`: the connection presented a client certificate that
 * verified against tls.client_ca_file, and its subject, issuer and SANs are
 * as written. It decides without a sign-in, like `ip`: an entry with only
 * this (and network conditions) lets a caller in by its certificate alone,
 * as an identity of kind `certificate`. Unverified certificates never count.
 */
export const clientCertificate = criterion({
  key: 'client_certificate',
  field: 'clientCertificate',
  schema: {
    type: 'object',
    description: 'A verified client certificate (tls.client_ca_file) whose subject, issuer and subject alternative names are as listed; each key listed must match one of its values',
    additionalProperties: false,
    minProperties: 1,
    properties: {
      subject: { ...STRING_LIST, description: 'Distinguished names, e.g. "CN=billing-batch, O=Example" (attributes in any order)' },
      subject_cn: { ...STRING_LIST, description: 'Common names of the subject' },
      issuer: { ...STRING_LIST, description: 'Distinguished names of the issuing CA' },
      issuer_cn: { ...STRING_LIST, description: 'Common names of the issuing CA' },
      san_dns: { ...STRING_LIST, description: 'DNS names (subject alternative names)' },
      san_uri: { ...STRING_LIST, description: 'URIs (subject alternative names), e.g. SPIFFE ids' },
      san_email: { ...STRING_LIST, description: 'Email addresses (subject alternative names)' },
    },
  },
  reason: 'certificate_not_accepted',
  needsUser: false,
  compile: (raw: RawTest, ctx): CertificateTest => {
    const dns = (key: 'subject' | 'issuer'): Array<ReadonlySet<string>> | undefined => raw[key]?.map((text, k) => {
      const set = dnAttributes(text)
      if (set.size === 0) ctx.error(ctx.at(key, k), `"${text}" is not a distinguished name (ATTRIBUTE=value, comma-separated, e.g. CN=billing-batch, O=Example)`)
      return set
    })
    const subject = dns('subject')
    const issuer = dns('issuer')
    return {
      ...(subject === undefined ? {} : { subject }),
      ...(raw.subject_cn === undefined ? {} : { subjectCn: raw.subject_cn }),
      ...(issuer === undefined ? {} : { issuer }),
      ...(raw.issuer_cn === undefined ? {} : { issuerCn: raw.issuer_cn }),
      ...(raw.san_dns === undefined ? {} : { sanDns: raw.san_dns.map(d => d.toLowerCase()) }),
      ...(raw.san_uri === undefined ? {} : { sanUri: raw.san_uri }),
      ...(raw.san_email === undefined ? {} : { sanEmail: raw.san_email.map(e => e.toLowerCase()) }),
      text: Object.entries(raw).map(([k, v]) => `${k} ${(v ?? []).join(' or ')}`).join(', '),
    }
  },
  test: (t, { clientCertificate: cert }) => cert !== undefined && holds(t, cert),
  describe: t => `requires a client certificate with ${t.text}`,
})
