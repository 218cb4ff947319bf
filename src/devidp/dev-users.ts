/** A person the development IdP signs in (username or email, and password). */
export interface DevUser {
  id: string
  password: string
  name: string
  email: string
  groups: string[]
  roles: string[]
  /** Authentication methods references put in the ID token; default ['pwd']. */
  amr?: string[]
  /**
   * A second factor (a fixed one-time code): a sign-in that asks for MFA
   * (acr_values, or acrs in the claims parameter) asks for it too, and amr
   * gains `mfa`. Without it such a sign-in is made with the password alone.
   */
  stepUpCode?: string
  /** Extra claims; they are released in the ID token and from userinfo. */
  extraClaims?: Record<string, unknown>
}

export const DEMO_USERS: DevUser[] = [
  {
    id: 'alice',
    password: 'alice-pass',
    name: 'Alice Admin',
    email: 'alice@example.test',
    groups: ['admins', 'staff'],
    roles: ['App.Admin'],
    amr: ['pwd', 'mfa'],
  },
  {
    id: 'bob',
    password: 'bob-pass',
    name: 'Bob Staff',
    email: 'bob@example.test',
    groups: ['staff'],
    roles: [],
    amr: ['pwd'],
  },
]

/** The user a login form names, by id or (case-insensitive) email, when the password matches. */
export function userFor (users: readonly DevUser[], login: string, password: string): DevUser | undefined {
  const user = users.find(u => u.id === login) ?? users.find(u => u.email.toLowerCase() === login.toLowerCase())
  return user?.password === password ? user : undefined
}
