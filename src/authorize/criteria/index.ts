import { claims } from './claims.js'
import { clientIds } from './client-ids.js'
import type { Criterion } from './criterion.js'
import { emailDomains, emails } from './emails.js'
import { allGroups, groups } from './groups.js'
import { ip } from './ip.js'
import { mfa } from './mfa.js'
import { roles } from './roles.js'
import { scopes } from './scopes.js'
import { users } from './users.js'

export type { Criterion, RequestFacts } from './criterion.js'

/** Every condition kind, in the order a failing one is reported (network first: it needs no sign-in). */
export const CRITERIA: readonly Criterion[] = [ip, users, emails, emailDomains, groups, allGroups, roles, scopes, clientIds, claims, mfa]
