import { criterion, list, STRING_LIST } from './criterion.js'

/** `emails`: the email is listed (case-insensitive). */
export const emails = criterion({
  key: 'emails',
  field: 'emails',
  schema: { ...STRING_LIST, description: 'The email is one of these (case-insensitive)' },
  reason: 'email_not_listed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (addresses, { identity }) => {
    const email = identity?.email?.toLowerCase()
    return email !== undefined && addresses.some(e => e.toLowerCase() === email)
  },
  describe: () => 'available to listed email addresses only',
})

/** `email_domains`: the email's domain is listed (case-insensitive, exact domain after the last @; a leading @ is dropped). */
export const emailDomains = criterion({
  key: 'email_domains',
  field: 'emailDomains',
  schema: { ...STRING_LIST, description: 'The email ends with @ one of these domains (case-insensitive)' },
  reason: 'email_domain_not_allowed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw.map(d => d.replace(/^@/, '')),
  test: (domains, { identity }) => {
    const email = identity?.email?.toLowerCase()
    if (email === undefined) return false
    const at = email.lastIndexOf('@')
    if (at <= 0) return false
    const domain = email.slice(at + 1)
    return domains.some(d => d.toLowerCase() === domain)
  },
  describe: domains => `requires an email address at ${list(domains)}`,
})
