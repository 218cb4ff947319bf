/**
 * What the logger must never write. One list, never built from user input.
 * pino's redaction runs on every log line, so a token that reaches a log call by
 * mistake is still replaced.
 */
const SENSITIVE_KEYS = [
  'authorization', 'cookie', 'set-cookie', 'proxy-authorization',
  'access_token', 'refresh_token', 'id_token', 'logout_token', 'id_token_hint',
  'accessToken', 'refreshToken', 'idToken', 'tokens', 'downstream', 'subject_token', 'code_verifier', 'codeVerifier',
  'client_secret', 'clientSecret', 'secret', 'secrets', 'password', 'private_key', 'privateKey',
  'x-gatehouse-assertion', 'x-gatehouse-access-token', 'assertion',
] as const

/**
 * OAuth parameters (`code`, `state`, `nonce`) are secrets where they are
 * parameters, but `code` is also every error's code: these are redacted at
 * the top level and inside request parameters, not inside `err`.
 */
const SENSITIVE_PARAMS = ['code', 'state', 'nonce'] as const
const PARAM_CONTAINERS = ['query', 'body', 'params', 'form', 'req.query', 'req.body']

export const REDACT_PATHS: string[] = [
  ...SENSITIVE_KEYS.map(k => `["${k}"]`),
  ...SENSITIVE_KEYS.map(k => `*["${k}"]`),
  ...SENSITIVE_KEYS.map(k => `*.*["${k}"]`),
  ...SENSITIVE_PARAMS.map(k => `["${k}"]`),
  ...SENSITIVE_PARAMS.flatMap(k => PARAM_CONTAINERS.map(c => `${c}["${k}"]`)),
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
]

/** Query parameters whose values are replaced before a URL is logged. `sid` is an IdP session id on front-channel logout (whoever has it can end that session) and a session id in many legacy apps. */
const SENSITIVE_QUERY = new Set(['code', 'state', 'sid', 'id_token_hint', 'token', 'access_token', 'id_token', 'refresh_token', 'logout_token', 'session_state', 'client_secret', 'password'])

/** Returns the URL with the values of sensitive query parameters replaced by `[Redacted]`. */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  // Path parameters such as ;jsessionid=... carry session ids in legacy apps.
  const path = (q === -1 ? url : url.slice(0, q)).replace(/;([^/;=?]*)=[^/;?]*/g, ';$1=[Redacted]')
  if (q === -1) return path
  url = path + url.slice(q)
  const parts = url.slice(q + 1).split('&').map(pair => {
    const eq = pair.indexOf('=')
    const name = eq === -1 ? pair : pair.slice(0, eq)
    let decoded = name
    try { decoded = decodeURIComponent(name) } catch { /* keep raw */ }
    return SENSITIVE_QUERY.has(decoded.toLowerCase()) ? `${name}=[Redacted]` : pair
  })
  return `${path}?${parts.join('&')}`
}
