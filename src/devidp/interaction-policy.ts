/// <reference path="./oidc-provider.d.ts" />
import { interactionPolicy, type PromptPolicy } from 'oidc-provider'

/**
 * oidc-provider's prompts (login, consent) and `select_account` before them:
 * a client may ask the IdP to offer an account choice ("sign in as someone
 * else"); without it such a request fails with "unsupported prompt value".
 */
export function devIdpPrompts (): PromptPolicy {
  const policy = interactionPolicy.base()
  policy.add(new interactionPolicy.Prompt({ name: 'select_account', requestable: true }), 0)
  return policy
}

/** The `prompt` values a client may send, for the discovery document's `prompt_values_supported`. */
export function promptValues (policy: PromptPolicy): string[] {
  return ['none', ...policy.filter(p => p.requestable).map(p => p.name)]
}
