/** The most a claims request may hold, decoded: an Entra claims challenge is a few hundred bytes. */
export const MAX_CLAIMS_BYTES = 4096

/** Base64 (standard or URL-safe alphabet), padded or not; nothing else. */
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

/**
 * A claims request (OpenID Connect Core 5.5) carried as base64 JSON, as an
 * application's `claims="…"` challenge or a login_url carries it: a JSON
 * object of at most MAX_CLAIMS_BYTES, returned as the parsed object. What is
 * passed on is always this object serialised again, never the text received.
 */
export function claimsFromBase64 (text: string): { claims: Readonly<Record<string, unknown>> } | { problem: string } {
  if (text.length > Math.ceil(MAX_CLAIMS_BYTES / 3) * 4 + 2) return { problem: `claims longer than ${MAX_CLAIMS_BYTES} bytes` }
  if (!BASE64.test(text)) return { problem: 'claims is not base64' }
  const bytes = Buffer.from(text, 'base64')
  if (bytes.length > MAX_CLAIMS_BYTES) return { problem: `claims longer than ${MAX_CLAIMS_BYTES} bytes` }
  let parsed: unknown
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    return { problem: 'claims is not JSON' }
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return { problem: 'claims is not a JSON object' }
  if (Object.keys(parsed).length === 0) return { problem: 'claims is an empty object' }
  return { claims: parsed as Record<string, unknown> }
}

/** The claims request as a login_url carries it: base64url of its JSON. */
export function claimsToBase64 (claims: Readonly<Record<string, unknown>>): string {
  return Buffer.from(JSON.stringify(claims)).toString('base64url')
}
