import type { DevUser } from './dev-users.js'

/** Scopes (and the claims they release) recognised by the dev IdP. */
export function claimsConfiguration (users: readonly DevUser[]): Record<string, string[] | null> {
  const extra = new Set<string>()
  for (const user of users) {
    for (const key of Object.keys(user.extraClaims ?? {})) extra.add(key)
  }
  return {
    // groups, roles and amr are released with plain `openid` so every RP gets
    // them in the ID token without having to know about custom scopes.
    openid: ['sub', 'groups', 'roles', 'amr', ...extra],
    profile: ['name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
    roles: ['roles'],
    sid: null,
    auth_time: null,
    iss: null,
  }
}

/** The claims of a user, as the ID token and userinfo release them. */
export function userClaims (user: DevUser): Record<string, unknown> {
  return {
    ...user.extraClaims,
    sub: user.id,
    name: user.name,
    email: user.email,
    email_verified: true,
    groups: [...user.groups],
    roles: [...user.roles],
    amr: user.amr ?? ['pwd'],
  }
}
