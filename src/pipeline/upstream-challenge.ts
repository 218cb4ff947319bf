import type { StepUpNeed } from '../authorize/step-up.js'
import { claimsFromBase64 } from '../signin/step-up-claims.js'
import { ACR_VALUE } from '../signin/step-up-params.js'

/**
 * What an application's 401 asks of the user's sign-in, read from its
 * WWW-Authenticate headers: nothing the gateway acts on (`none`), a
 * challenge that is not well-formed or carries values that are not
 * (`invalid`, passed to the client as it is), or a step-up: a Bearer
 * challenge with `error="insufficient_claims"` and `claims` (a Microsoft
 * Entra continuous access evaluation claims challenge) or RFC 9470's
 * `error="insufficient_user_authentication"` with `acr_values` and/or `max_age`.
 */
export type UpstreamChallenge =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid', readonly problem: string }
  | { readonly kind: 'step_up', readonly error: StepUpError, readonly need: StepUpNeed }

type StepUpError = 'insufficient_claims' | 'insufficient_user_authentication'

/** One challenge: its scheme and parameter names folded to lower case; a token68 is kept apart. */
interface Challenge { scheme: string, params: Map<string, string>, token68?: string }

const MAX_ACR_VALUES = 10
/** A header this long is not a challenge worth reading (an Entra one is well under 1 KiB). */
const MAX_HEADER_CHARS = 8192

export function upstreamChallenge (header: string | readonly string[] | undefined): UpstreamChallenge {
  if (header === undefined) return { kind: 'none' }
  const challenges: Challenge[] = []
  for (const value of typeof header === 'string' ? [header] : header) {
    if (value.length > MAX_HEADER_CHARS) return { kind: 'invalid', problem: `WWW-Authenticate longer than ${MAX_HEADER_CHARS} characters` }
    const parsed = parseChallenges(value)
    if (typeof parsed === 'string') return { kind: 'invalid', problem: `WWW-Authenticate is not well-formed: ${parsed}` }
    challenges.push(...parsed)
  }
  const found = challenges.find(c => c.scheme === 'bearer' && (c.params.get('error') === 'insufficient_claims' || c.params.get('error') === 'insufficient_user_authentication'))
  if (found === undefined) return { kind: 'none' }
  if (found.params.get('error') === 'insufficient_claims') {
    const claims = found.params.get('claims')
    if (claims === undefined) return { kind: 'invalid', problem: 'insufficient_claims without claims' }
    const decoded = claimsFromBase64(claims)
    if ('problem' in decoded) return { kind: 'invalid', problem: decoded.problem }
    return { kind: 'step_up', error: 'insufficient_claims', need: { claims: decoded.claims } }
  }
  const acrText = found.params.get('acr_values')
  const maxAgeText = found.params.get('max_age')
  if (acrText === undefined && maxAgeText === undefined) return { kind: 'invalid', problem: 'insufficient_user_authentication without acr_values or max_age' }
  const acr = acrText === undefined ? undefined : acrText.split(' ')
  if (acr !== undefined && (acr.length > MAX_ACR_VALUES || !acr.every(v => ACR_VALUE.test(v)))) return { kind: 'invalid', problem: 'acr_values is not a list of acr values' }
  if (maxAgeText !== undefined && !/^[0-9]{1,9}$/.test(maxAgeText)) return { kind: 'invalid', problem: 'max_age is not a number of seconds' }
  return {
    kind: 'step_up',
    error: 'insufficient_user_authentication',
    need: { ...(acr === undefined ? {} : { acr: [...new Set(acr)] }), ...(maxAgeText === undefined ? {} : { maxAgeS: Number(maxAgeText) }) },
  }
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/
const TOKEN68 = /[A-Za-z0-9\-._~+/]/

/**
 * RFC 9110 11.6.1: `#challenge`, each `auth-scheme [ 1*SP ( token68 / #auth-param ) ]`,
 * `auth-param = token BWS "=" BWS ( token / quoted-string )`. The challenges, or
 * what is wrong (a string). A parameter named twice in a challenge is wrong.
 */
function parseChallenges (text: string): Challenge[] | string {
  let at = 0
  const ows = (): void => { while (text[at] === ' ' || text[at] === '\t') at++ }
  const token = (): string => {
    const start = at
    while (at < text.length && TCHAR.test(text[at] ?? '')) at++
    return text.slice(start, at)
  }
  const quoted = (): string | undefined => {
    if (text[at] !== '"') return undefined
    at++
    let out = ''
    while (at < text.length) {
      const c = text.charCodeAt(at)
      if (c === 0x22) { at++; return out }
      if (c === 0x5c) {
        const next = text.charCodeAt(at + 1)
        if (!(next === 0x09 || (next >= 0x20 && next <= 0x7e))) return undefined
        out += text[at + 1]
        at += 2
        continue
      }
      if (!(c === 0x09 || c === 0x20 || c === 0x21 || (c >= 0x23 && c <= 0x7e))) return undefined
      out += text[at]
      at++
    }
    return undefined
  }
  // Whether an auth-param (token BWS "=") starts here, and not a token68 or the next challenge.
  const paramAhead = (): boolean => {
    const start = at
    const name = token()
    ows()
    const is = name !== '' && text[at] === '=' && text[at + 1] !== '='
    at = start
    return is
  }
  const listSeparators = (): void => { ows(); while (text[at] === ',') { at++; ows() } }

  const challenges: Challenge[] = []
  listSeparators()
  while (at < text.length) {
    const scheme = token()
    if (scheme === '') return `a scheme was expected at character ${at + 1}`
    const challenge: Challenge = { scheme: scheme.toLowerCase(), params: new Map() }
    challenges.push(challenge)
    if (at < text.length && text[at] !== ',' && text[at] !== ' ') return `unexpected character at ${at + 1}`
    ows()
    if (at >= text.length || text[at] === ',') {
      listSeparators()
      continue
    }
    if (!paramAhead()) {
      const start = at
      while (at < text.length && TOKEN68.test(text[at] ?? '')) at++
      if (at === start) return `a parameter or token68 was expected at character ${at + 1}`
      while (text[at] === '=') at++
      challenge.token68 = text.slice(start, at)
      ows()
      if (at < text.length && text[at] !== ',') return `unexpected character at ${at + 1}`
      listSeparators()
      continue
    }
    // Parameters, until the list ends or an element is not a parameter (it starts the next challenge).
    for (;;) {
      const name = token().toLowerCase()
      ows()
      at++ // the "=" paramAhead saw
      ows()
      const value = text[at] === '"' ? quoted() : token()
      if (value === undefined) return `a quoted string for ${name} is not well-formed`
      if (value === '' && text[at - 1] !== '"') return `a value was expected for ${name} at character ${at + 1}`
      if (challenge.params.has(name)) return `${name} is given twice`
      challenge.params.set(name, value)
      ows()
      if (at >= text.length) break
      if (text[at] !== ',') return `unexpected character at ${at + 1}`
      listSeparators()
      if (at >= text.length || !paramAhead()) break
    }
  }
  return challenges
}
