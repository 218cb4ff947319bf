/**
 * What a new sign-in must bring for a request to pass: the conditions that
 * depend only on how the user signed in (never on who they are). A decision
 * that fails only on these asks for a step-up instead of refusing.
 */
export interface StepUpNeed {
  /** A multi-factor sign-in (`mfa: true`). */
  readonly mfa?: true
  /** One of these authentication context classes (`acr: [...]`). */
  readonly acr?: readonly string[]
  /** Every one of these Entra authentication contexts in `acrs` (`auth_context: [...]`). */
  readonly authContexts?: readonly string[]
  /** A sign-in no older than this many seconds (the route's `reauth_after`). */
  readonly maxAgeS?: number
  /**
   * A claims request (OpenID Connect Core 5.5) the application asked for in
   * its own challenge (`error="insufficient_claims"`), validated; passed to
   * the IdP in the `claims` parameter. The application, not the gateway,
   * judges whether the new sign-in satisfies it.
   */
  readonly claims?: Readonly<Record<string, unknown>>
}

/** Both needs at once. */
export function mergeNeeds (a: StepUpNeed, b: StepUpNeed): StepUpNeed {
  const acr = a.acr === undefined ? b.acr : b.acr === undefined ? a.acr : a.acr.filter(v => b.acr?.includes(v) === true)
  const contexts = [...new Set([...(a.authContexts ?? []), ...(b.authContexts ?? [])])]
  const maxAge = a.maxAgeS === undefined ? b.maxAgeS : b.maxAgeS === undefined ? a.maxAgeS : Math.min(a.maxAgeS, b.maxAgeS)
  return {
    ...(a.mfa === true || b.mfa === true ? { mfa: true as const } : {}),
    ...(acr === undefined ? {} : { acr }),
    ...(contexts.length === 0 ? {} : { authContexts: contexts }),
    ...(maxAge === undefined ? {} : { maxAgeS: maxAge }),
    ...(a.claims === undefined && b.claims === undefined ? {} : { claims: { ...a.claims, ...b.claims } }),
  }
}

/** A stable text for a need, to recognise a step-up already tried for the same thing. */
export function needKey (need: StepUpNeed): string {
  return JSON.stringify([need.mfa === true, [...(need.acr ?? [])].sort(), [...(need.authContexts ?? [])].sort(), need.maxAgeS ?? null, need.claims ?? null])
}

/** The need in words: "multi-factor authentication and a sign-in within the last 15 minutes". */
export function describeNeed (need: StepUpNeed): string {
  const parts: string[] = []
  if (need.mfa === true) parts.push('multi-factor authentication')
  if (need.acr !== undefined) parts.push(`authentication level ${need.acr.join(' or ')}`)
  if (need.authContexts !== undefined) parts.push(`conditional access context ${need.authContexts.join(' and ')}`)
  if (need.maxAgeS !== undefined) parts.push(`a sign-in within the last ${durationWords(need.maxAgeS)}`)
  if (need.claims !== undefined) parts.push('the claims the application asked for')
  return parts.join(' and ')
}

function durationWords (seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`
  return `${seconds} seconds`
}
