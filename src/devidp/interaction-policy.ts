/// <reference path="./oidc-provider.d.ts" />
import { interactionPolicy, type KoaContextWithOIDC, type PromptPolicy } from 'oidc-provider'
import type { DevUser } from './dev-users.js'
import { mfaRequested } from './mfa-request.js'

/**
 * oidc-provider's prompts (login, consent) and `select_account` before them:
 * a client may ask the IdP to offer an account choice ("sign in as someone
 * else"); without it such a request fails with "unsupported prompt value".
 */
export function devIdpPrompts (users: readonly DevUser[] = []): PromptPolicy {
  const policy = interactionPolicy.base()
  policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0)
  // Step-up: a request for MFA brings the login page back to a user who has a second factor and did not use it.
  policy.get('login')?.checks.push(new interactionPolicy.Check('mfa_requested', 'multi-factor authentication was requested', (ctx: KoaContextWithOIDC) => {
    const { oidc } = ctx as unknown as { oidc: { params: Record<string, unknown>, session: { accountId?: string, amr?: string[] }, result?: { login?: unknown } } }
    if (oidc.result?.login !== undefined || mfaRequested(oidc.params) === undefined) return false
    const user = users.find(u => u.id === oidc.session.accountId)
    return user?.stepUpCode !== undefined && !(oidc.session.amr ?? []).includes('mfa')
  }))
  return policy
}

/** The `prompt` values a client may send, for the discovery document's `prompt_values_supported`. */
export function promptValues (policy: PromptPolicy): string[] {
  return ['none', ...policy.filter(p => p.requestable).map(p => p.name)]
}
