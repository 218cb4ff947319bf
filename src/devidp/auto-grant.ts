/// <reference path="./oidc-provider.d.ts" />
import type { Interaction, Provider } from 'oidc-provider'
import type { ConsentLedger } from './downstream-grants.js'

/**
 * Automatic consent: builds (or extends) a grant covering every known scope
 * and claim the request asks for, and returns its id.
 */
export async function autoGrant (provider: Provider, knownScopes: ReadonlySet<string>, interaction: Interaction, accountId: string, consents?: ConsentLedger): Promise<string> {
  const { params, prompt } = interaction
  const clientId = String(params.client_id)
  let grant = interaction.grantId === undefined ? undefined : await provider.Grant.find(interaction.grantId)
  if (grant === undefined || grant.accountId !== accountId) grant = new provider.Grant({ accountId, clientId })
  const requested = String(params.scope ?? '').split(' ').filter(s => knownScopes.has(s))
  if (requested.length > 0) grant.addOIDCScope(requested.join(' '))
  if (prompt.details.missingOIDCScope?.length !== undefined && prompt.details.missingOIDCScope.length > 0) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '))
  const requestedClaims = new Set<string>(prompt.details.missingOIDCClaims ?? [])
  if (typeof params.claims === 'string') {
    try {
      const parsed = JSON.parse(params.claims) as { id_token?: object, userinfo?: object }
      for (const k of Object.keys(parsed.id_token ?? {})) requestedClaims.add(k)
      for (const k of Object.keys(parsed.userinfo ?? {})) requestedClaims.add(k)
    } catch { /* malformed claims were already rejected by the provider */ }
  }
  if (requestedClaims.size > 0) grant.addOIDCClaims([...requestedClaims])
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '))
    consents?.add(accountId, clientId, indicator, scopes)
  }
  return await grant.save()
}
