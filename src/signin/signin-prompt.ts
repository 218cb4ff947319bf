/** What a sign-in link may ask the IdP for: an account choice, or a fresh sign-in. */
export type SigninPrompt = 'select_account' | 'login'

/**
 * The `prompt` sent to the IdP: the one asked for when the provider's
 * metadata announces it (`prompt_values_supported`), otherwise `login`
 * (which every OpenID provider takes) when announced or when the metadata
 * lists no values. An IdP answers a value it does not know with an error
 * instead of a sign-in page.
 */
export function signinPrompt (wanted: SigninPrompt | undefined, announced: unknown): SigninPrompt | undefined {
  if (wanted === undefined) return undefined
  if (!Array.isArray(announced)) return 'login'
  if (announced.includes(wanted)) return wanted
  return announced.includes('login') ? 'login' : undefined
}
