/**
 * What the logger must never write. One list, never built from user input.
 * pino's redaction runs on every log line, so a token that reaches a log call by
 * mistake is still replaced.
 */
const SENSITIVE_KEYS = [
  'authorization', 'cookie', 'set-cookie', 'proxy-authorization',
  'access_token', 'refresh_token', 'id_token', 'logout_token', 'id_token_hint',
  'accessToken', 'refreshToken', 'idToken', 'tokens',
  'code', 'code_verifier', 'codeVerifier', 'state', 'nonce',
  'client_secret', 'clientSecret', 'secret', 'secrets', 'password', 'private_key', 'privateKey',
  'x-gatehouse-assertion', 'assertion',
] as const

export const REDACT_PATHS: string[] = [
  ...SENSITIVE_KEYS.map(k => `["${k}"]`),
  ...SENSITIVE_KEYS.map(k => `*["${k}"]`),
  ...SENSITIVE_KEYS.map(k => `*.*["${k}"]`),
  'req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]',
]

/** Query parameters whose values are replaced before a URL is logged. */
const SENSITIVE_QUERY = new Set(['code', 'state', 'id_token_hint', 'token', 'access_token', 'id_token', 'refresh_token', 'logout_token', 'session_state', 'client_secret', 'password'])

/** Returns the URL with the values of sensitive query parameters replaced by `[Redacted]`. */
export function redactUrl (url: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const parts = url.slice(q + 1).split('&').map(pair => {
    const eq = pair.indexOf('=')
    const name = eq === -1 ? pair : pair.slice(0, eq)
    let decoded = name
    try { decoded = decodeURIComponent(name) } catch { /* keep raw */ }
    return SENSITIVE_QUERY.has(decoded.toLowerCase()) ? `${name}=[Redacted]` : pair
  })
  return `${url.slice(0, q)}?${parts.join('&')}`
}
