import type { Criterion } from './criterion.js'
import { list } from './criterion.js'
import { parseEmailAddress } from '../../identify/email-address.js'

/** The identity's email when it is exactly one address (see parseEmailAddress). */
function addressOf (email: string | undefined): { text: string, domain: string } | undefined {
  if (email === undefined) return undefined
  const parsed = parseEmailAddress(email)
  return parsed === undefined ? undefined : { text: email.toLowerCase(), domain: parsed.domain }
}

/** `emails`: the email is one address, and listed (case-insensitive). */
export const emails: Criterion = {
  reason: 'email_not_listed',
  needsUser: true,
  has: set => set.emails !== undefined,
  test: (set, { identity }) => {
    const email = addressOf(identity?.email)
    return email !== undefined && (set.emails ?? []).some(e => e.toLowerCase() === email.text)
  },
  describe: () => 'available to listed email addresses only',
}

/** `email_domains`: the email is one address whose domain is listed (case-insensitive, exact). */
export const emailDomains: Criterion = {
  reason: 'email_domain_not_allowed',
  needsUser: true,
  has: set => set.emailDomains !== undefined,
  test: (set, { identity }) => {
    const email = addressOf(identity?.email)
    return email !== undefined && (set.emailDomains ?? []).some(d => d.toLowerCase() === email.domain)
  },
  describe: set => `requires an email address at ${list(set.emailDomains ?? [])}`,
}
