import type { GatewayConfig } from '../config/types.js'

/** Names and attributes of the gateway's own cookies. None of them ever reaches an upstream. */
export interface GatewayCookies {
  session: string
  signin: string
  /** All names, for stripping from forwarded requests. */
  all: readonly string[]
  attributes: { path: '/', httpOnly: true, sameSite: 'lax', secure: boolean }
}

export function gatewayCookies (config: GatewayConfig): GatewayCookies {
  const session = config.session.cookieName
  const signin = `${session}-signin`
  return {
    session,
    signin,
    all: [session, signin],
    attributes: { path: '/', httpOnly: true, sameSite: 'lax', secure: config.secureCookies },
  }
}
