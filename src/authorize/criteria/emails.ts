import type { Criterion } from './criterion.js'
import { list } from './criterion.js'

/** `emails`: the email is listed (case-insensitive). */
export const emails: Criterion = {
  reason: 'email_not_listed',
  needsUser: true,
  has: set => set.emails !== undefined,
  test: (set, { identity }) => {
    const email = identity?.email?.toLowerCase()
    return email !== undefined && (set.emails ?? []).some(e => e.toLowerCase() === email)
  },
  describe: () => 'available to listed email addresses only',
}

/** `email_domains`: the email's domain is listed (case-insensitive, exact domain after the last @). */
export const emailDomains: Criterion = {
  reason: 'email_domain_not_allowed',
  needsUser: true,
  has: set => set.emailDomains !== undefined,
  test: (set, { identity }) => {
    const email = identity?.email?.toLowerCase()
    if (email === undefined) return false
    const at = email.lastIndexOf('@')
    if (at <= 0) return false
    const domain = email.slice(at + 1)
    return (set.emailDomains ?? []).some(d => d.toLowerCase() === domain)
  },
  describe: set => `requires an email address at ${list(set.emailDomains ?? [])}`,
}
