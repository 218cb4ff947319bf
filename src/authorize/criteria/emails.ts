import { criterion, list, STRING_LIST } from './criterion.js'
import { parseEmailAddress } from '../../identify/email-address.js'

/** The identity's email when it is exactly one address (see parseEmailAddress). */
function addressOf (email: string | undefined): { text: string, domain: string } | undefined {
  if (email === undefined) return undefined
  const parsed = parseEmailAddress(email)
  return parsed === undefined ? undefined : { text: email.toLowerCase(), domain: parsed.domain }
}

/** `emails`: the email is one address, and listed (case-insensitive). */
export const emails = criterion({
  key: 'emails',
  field: 'emails',
  schema: { ...STRING_LIST, description: 'The email is one of these (case-insensitive)' },
  reason: 'email_not_listed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (addresses, { identity }) => {
    const email = addressOf(identity?.email)
    return email !== undefined && addresses.some(e => e.toLowerCase() === email.text)
  },
  describe: () => 'available to listed email addresses only',
})

/** `email_domains`: the email is one address whose domain is listed (case-insensitive, exact; a leading @ is dropped). */
export const emailDomains = criterion({
  key: 'email_domains',
  field: 'emailDomains',
  schema: { ...STRING_LIST, description: 'The email ends with @ one of these domains (case-insensitive)' },
  reason: 'email_domain_not_allowed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw.map(d => d.replace(/^@/, '')),
  test: (domains, { identity }) => {
    const email = addressOf(identity?.email)
    return email !== undefined && domains.some(d => d.toLowerCase() === email.domain)
  },
  describe: domains => `requires an email address at ${list(domains)}`,
})
