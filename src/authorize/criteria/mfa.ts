import { criterion } from './criterion.js'

/** Authentication context classes that assert more than one factor. */
const MFA_ACR_VALUES = new Set(['http://schemas.openid.net/pape/policies/2007/06/multi-factor', 'mfa'])

/** `mfa: true`: the sign-in used several factors: `amr` contains "mfa" (RFC 8176), or `acr` names multi-factor. */
export const mfa = criterion({
  key: 'mfa',
  field: 'mfa',
  schema: { const: true, description: 'The user signed in with multiple factors (amr contains "mfa")' },
  reason: 'mfa_required',
  needsUser: true,
  compile: (raw: true) => raw,
  test: (_required, { identity }) => identity !== undefined && (identity.amr.includes('mfa') || (identity.acr !== undefined && MFA_ACR_VALUES.has(identity.acr))),
  describe: () => 'requires signing in with multi-factor authentication',
  stepUp: () => ({ mfa: true }),
})
