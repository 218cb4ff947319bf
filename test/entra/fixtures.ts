import type { EntraApp, EntraUser } from '../helpers/entra-standin.js'

export const HOME = 'aaaaaaaa-0000-4000-8000-000000000001'
export const OTHER = 'bbbbbbbb-0000-4000-8000-000000000002'
export const ADMINS = 'a0000000-0000-4000-8000-0000000000a1'
export const AUDITORS = 'a0000000-0000-4000-8000-0000000000a2'
export const GLOBAL_ADMIN_ROLE = '62e90394-69f5-4237-9190-012177145e10'
export const API = 'api://gatehouse-test'

function group (n: number): string {
  return `c0000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`
}

export const ALICE: EntraUser = { id: 'alice', password: 'alice-pass', name: 'Alice Admin', tid: HOME, oid: '11111111-0000-4000-8000-00000000a11c', upn: 'alice@contoso.test', groups: [ADMINS], roles: ['App.Admin'], amr: ['pwd', 'mfa'], wids: [GLOBAL_ADMIN_ROLE] }
export const BOB: EntraUser = { id: 'bob', password: 'bob-pass', name: 'Bob Staff', tid: HOME, oid: '22222222-0000-4000-8000-000000000b0b', upn: 'bob@contoso.test', groups: [], amr: ['pwd'] }
/** In 250 groups: the token cannot list them (overage); AUDITORS is known only to Graph. */
export const OLGA: EntraUser = { id: 'olga', password: 'olga-pass', name: 'Olga Overage', tid: HOME, oid: '33333333-0000-4000-8000-0000000001a9', upn: 'olga@contoso.test', groups: [...Array.from({ length: 240 }, (_, i) => group(i)), AUDITORS, ...Array.from({ length: 9 }, (_, i) => group(500 + i))], amr: ['pwd'] }
/** Same group as Alice, another tenant. */
export const EVE: EntraUser = { id: 'eve', password: 'eve-pass', name: 'Eve Elsewhere', tid: OTHER, oid: '44444444-0000-4000-8000-000000000e5e', upn: 'eve@fabrikam.test', groups: [ADMINS], amr: ['pwd', 'mfa'] }
/** Conditional access made her satisfy authentication context c1 (which requires MFA). */
export const CARA: EntraUser = { id: 'cara', password: 'cara-pass', name: 'Cara Context', tid: HOME, oid: '55555555-0000-4000-8000-00000000ca1a', upn: 'cara@contoso.test', groups: [], amr: ['pwd'], acrs: ['c1'] }

export const USERS = [ALICE, BOB, OLGA, EVE, CARA]

export const READER_APP: EntraApp = { clientId: 'd0000000-0000-4000-8000-00000000read', clientSecret: 'reader-secret', tid: HOME, oid: 'e0000000-0000-4000-8000-00000000read', roles: ['Reports.Read'] }
export const PLAIN_APP: EntraApp = { clientId: 'd0000000-0000-4000-8000-0000000plain', clientSecret: 'plain-secret', tid: HOME, oid: 'e0000000-0000-4000-8000-0000000plain', roles: [] }
export const FOREIGN_APP: EntraApp = { clientId: 'd0000000-0000-4000-8000-00000foreign', clientSecret: 'foreign-secret', tid: OTHER, oid: 'e0000000-0000-4000-8000-00000foreign', roles: ['Reports.Read'] }
export const APPS = [READER_APP, PLAIN_APP, FOREIGN_APP]

export const POLICY = `
routes:
  - name: admins
    match: { path: /admins/** }
    allow: [ { groups: [admins] } ]
  - name: audit
    match: { path: /audit/** }
    allow: [ { groups: [auditors] } ]
  - name: mfa
    match: { path: /mfa/** }
    allow: [ { mfa: true } ]
  - name: directory
    match: { path: /directory/** }
    allow: [ { claims: { wids: { contains: ${GLOBAL_ADMIN_ROLE} } } } ]
  - name: app-admin
    match: { path: /app-admin/** }
    allow: [ { roles: [App.Admin] } ]
  - name: reports-api
    match: { path: /api/reports/** }
    credentials: [bearer]
    allow: [ { roles: [Reports.Read] }, { scopes: [Reports.Read] } ]
  - name: reader-only-api
    match: { path: /api/reader/** }
    credentials: [bearer]
    allow: [ { client_ids: [${READER_APP.clientId}] } ]
  - name: mixed-api
    match: { path: /api/mixed/** }
    credentials: [session, bearer]
    allow: authenticated
  - name: rest
    match: { path: /** }
    allow: authenticated
`

export const GROUP_NAMES = `${ADMINS}=admins,${AUDITORS}=auditors`
