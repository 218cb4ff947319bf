/** acr values that ask for a multi-factor sign-in. */
const MFA_ACR_VALUES = ['mfa', 'http://schemas.openid.net/pape/policies/2007/06/multi-factor']

/** What an authorization request asks of the sign-in beyond a password: an MFA acr value, or Entra-style authentication contexts (`acrs` essential in `claims`). */
export interface MfaRequest {
  /** The acr value asked for, to put in the ID token. */
  readonly acr: string | undefined
  /** Authentication contexts asked for in the claims parameter. */
  readonly contexts: readonly string[]
}

/** The MFA an authorization request asks for, or undefined when it asks for none. */
export function mfaRequested (params: { acr_values?: unknown, claims?: unknown }): MfaRequest | undefined {
  const acr = typeof params.acr_values === 'string' ? params.acr_values.split(' ').find(v => MFA_ACR_VALUES.includes(v)) : undefined
  const contexts = requestedContexts(params.claims)
  return acr === undefined && contexts.length === 0 ? undefined : { acr, contexts }
}

function requestedContexts (claims: unknown): string[] {
  if (typeof claims !== 'string') return []
  try {
    const acrs = (JSON.parse(claims) as { id_token?: { acrs?: { value?: unknown, values?: unknown } } }).id_token?.acrs
    if (acrs === undefined) return []
    const values = Array.isArray(acrs.values) ? acrs.values : [acrs.value]
    return values.filter((v): v is string => typeof v === 'string')
  } catch {
    return []
  }
}
