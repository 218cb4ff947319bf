/**
 * One canonical form for every request path, or a refusal.
 *
 * The gateway decides access by the request path and forwards a path
 * upstream. If the two ever read different strings (`/public/..%2fadmin`,
 * `/admin;x`, `//admin`, `%2e%2e`), a request can be allowed as one path and
 * served as another. So every request target is turned into ONE canonical
 * path that both the policy and the upstream see, or it is refused outright.
 *
 * Pure string work: no URL parser, never throws.
 */

export const MAX_PATH_LENGTH = 8192
export const MAX_SEGMENTS = 256

export type PathRejection =
  | 'not_origin_form'
  | 'bad_character'
  | 'bad_percent_encoding'
  | 'encoded_separator'
  | 'encoded_control'
  | 'invalid_utf8'
  | 'dot_segment_parameter'
  | 'empty_segment_parameter'
  | 'escapes_root'
  | 'too_long'

export interface CanonicalPath {
  /** What is forwarded upstream and what policies match: '/'-rooted, no dot segments, no empty segments (no '//'), unreserved characters decoded, remaining %XX escapes upper-cased. Trailing slash preserved. */
  path: string
  /** The path as matched by route patterns: `path` with each segment's ';parameters' removed (Tomcat-style matrix parameters), e.g. '/admin;jsessionid=1/x' -> '/admin/x'. */
  matchPath: string
  /** The raw query string without '?', exactly as received ('' when none). Never used for matching. */
  query: string
}

export type CanonicalizeResult =
  | { ok: true, value: CanonicalPath }
  | { ok: false, reason: PathRejection, detail: string }

const HEX_DIGITS = '0123456789ABCDEF'

/** 1 = may appear raw in a path: RFC 3986 pchar, '/', and '%' (checked separately). */
const PATH_CHAR = new Uint8Array(128)
/** 1 = RFC 3986 unreserved: decoded when percent-encoded. */
const UNRESERVED = new Uint8Array(128)

for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c)
  if (/[A-Za-z0-9\-._~]/.test(ch)) UNRESERVED[c] = 1
  if (/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]/.test(ch)) PATH_CHAR[c] = 1
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

function reject (reason: PathRejection, detail: string): CanonicalizeResult {
  return { ok: false, reason, detail }
}

function hexValue (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

function codeName (cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`
}

/** `'"' (U+0022)` for printable ASCII, just `U+0009` for anything else: never echoes raw bytes. */
function describeChar (s: string, i: number): string {
  const cp = s.codePointAt(i) ?? 0
  return cp > 0x20 && cp < 0x7f ? `'${String.fromCharCode(cp)}' (${codeName(cp)})` : codeName(cp)
}

/** A segment for a log line, cut so that no more than 32 characters of input are echoed. */
function excerpt (s: string): string {
  return s.length > 32 ? `${s.slice(0, 32)}...` : s
}

function describeForm (rawPath: string): string {
  if (rawPath.length === 0) return 'request target has no path (empty, or starts with \'?\')'
  if (rawPath === '*') return 'asterisk-form request target \'*\' is not a path'
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(rawPath)) return 'absolute-form request target: the path must start with \'/\''
  if (rawPath.includes(':')) return 'authority-form request target: the path must start with \'/\''
  return 'request target does not start with \'/\''
}

/** 1 = a character of a plain path: letters, digits, '-', '_', '~', '.' and '/'. */
const PLAIN_CHAR = new Uint8Array(128)
for (let c = 0; c < 128; c++) if (/[A-Za-z0-9\-_~./]/.test(String.fromCharCode(c))) PLAIN_CHAR[c] = 1

/**
 * Whether a raw path is already canonical: '/'-rooted, plain characters only
 * (nothing to decode, no parameters), no empty segment, no '.' or '..'
 * segment, within the limits. Most paths are; they need no decoding pass.
 */
function isPlainPath (rawPath: string): boolean {
  if (rawPath.charCodeAt(0) !== 0x2f || rawPath.length > MAX_PATH_LENGTH) return false
  let slashes = 0
  let segmentStart = 1
  for (let i = 1; i <= rawPath.length; i++) {
    const c = i === rawPath.length ? 0x2f : rawPath.charCodeAt(i)
    if (c === 0x2f) {
      const length = i - segmentStart
      // An empty segment is allowed only as the end of the path ('/', or one trailing slash).
      if (length === 0 && i !== rawPath.length) return false
      if (length === 1 && rawPath.charCodeAt(segmentStart) === 0x2e) return false
      if (length === 2 && rawPath.charCodeAt(segmentStart) === 0x2e && rawPath.charCodeAt(segmentStart + 1) === 0x2e) return false
      if (++slashes > MAX_SEGMENTS) return false
      segmentStart = i + 1
    } else if (c >= 128 || PLAIN_CHAR[c] !== 1) {
      return false
    }
  }
  return true
}

/**
 * Turn a request target (`/path?query`, as on the HTTP request line) into
 * its one canonical path, or say why it is refused.
 */
export function canonicalizeTarget (target: string): CanonicalizeResult {
  if (typeof target !== 'string') return reject('not_origin_form', 'request target is not a string')
  const q = target.indexOf('?')
  const rawPath = q === -1 ? target : target.slice(0, q)
  if (isPlainPath(rawPath) && !target.includes('#')) {
    return { ok: true, value: { path: rawPath, matchPath: rawPath, query: q === -1 ? '' : target.slice(q + 1) } }
  }
  return canonicalizeByDecoding(target)
}

/**
 * The general case of canonicalizeTarget, for any target: decodes, checks
 * and rebuilds the path. Exported so that tests can hold the plain-path
 * shortcut to it.
 */
export function canonicalizeByDecoding (target: string): CanonicalizeResult {

  // 1. Path and query; a fragment is never sent by a client.
  const q = target.indexOf('?')
  const rawPath = q === -1 ? target : target.slice(0, q)
  const query = q === -1 ? '' : target.slice(q + 1)
  const hash = target.indexOf('#')
  if (hash !== -1) return reject('bad_character', `fragment marker '#' (U+0023) at offset ${hash}`)

  // 2. Origin-form only.
  if (rawPath.charCodeAt(0) !== 0x2f) return reject('not_origin_form', describeForm(rawPath))

  // 8 (checked before any scan). Length of the raw path.
  if (rawPath.length > MAX_PATH_LENGTH) {
    return reject('too_long', `path is ${rawPath.length} characters long; the limit is ${MAX_PATH_LENGTH}`)
  }

  // 3. Raw characters: pchar, '/' and '%'.
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i)
    if (c >= 128 || PATH_CHAR[c] !== 1) {
      return reject('bad_character', `character ${describeChar(rawPath, i)} at offset ${i} is not allowed in a path`)
    }
  }

  // 4a. Every '%' is followed by two hex digits.
  for (let i = 0; i < rawPath.length; i++) {
    if (rawPath.charCodeAt(i) !== 0x25) continue
    if (hexValue(rawPath.charCodeAt(i + 1)) < 0 || hexValue(rawPath.charCodeAt(i + 2)) < 0) {
      return reject('bad_percent_encoding', `'%' at offset ${i} is not followed by two hex digits`)
    }
    i += 2
  }

  // 4b. Decode to bytes once (never twice), and re-encode in one pass.
  const bytes = new Uint8Array(rawPath.length)
  let byteCount = 0
  let hasHighByte = false
  let separatorAt = -1
  let separatorByte = 0
  let controlAt = -1
  let controlByte = 0
  let canonical = ''
  for (let i = 0; i < rawPath.length; i++) {
    const c = rawPath.charCodeAt(i)
    if (c !== 0x25) {
      bytes[byteCount++] = c
      canonical += rawPath[i]
      continue
    }
    const b = hexValue(rawPath.charCodeAt(i + 1)) * 16 + hexValue(rawPath.charCodeAt(i + 2))
    bytes[byteCount++] = b
    if ((b === 0x2f || b === 0x5c) && separatorAt === -1) {
      separatorAt = i
      separatorByte = b
    }
    if ((b < 0x20 || b === 0x7f) && controlAt === -1) {
      controlAt = i
      controlByte = b
    }
    if (b >= 0x80) hasHighByte = true
    canonical += b < 0x80 && UNRESERVED[b] === 1
      ? String.fromCharCode(b)
      : `%${HEX_DIGITS[b >> 4]}${HEX_DIGITS[b & 15]}`
    i += 2
  }
  if (separatorAt !== -1) {
    const name = separatorByte === 0x2f ? '/' : '\\'
    return reject('encoded_separator', `encoded '${name}' (%${HEX_DIGITS[separatorByte >> 4]}${HEX_DIGITS[separatorByte & 15]}) at offset ${separatorAt}`)
  }
  if (controlAt !== -1) {
    return reject('encoded_control', `encoded control byte ${codeName(controlByte)} at offset ${controlAt}`)
  }
  if (hasHighByte) {
    try {
      UTF8.decode(bytes.subarray(0, byteCount))
    } catch {
      return reject('invalid_utf8', 'percent-encoded bytes are not valid UTF-8')
    }
  }

  // 5. Segments; empty ones are dropped, one trailing slash is kept.
  let trailing = canonical.length > 1 && canonical.endsWith('/')
  const segments = canonical.split('/').filter(s => s.length > 0)
  if (segments.length > MAX_SEGMENTS) {
    return reject('too_long', `path has ${segments.length} segments; the limit is ${MAX_SEGMENTS}`)
  }

  // 6. '.' or '..' carrying parameters, and segments that are nothing but
  //    parameters (';x'): servers disagree on these (some drop them, some
  //    count them as a segment), so the path would be read differently.
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]
    const semi = seg.indexOf(';')
    if (semi === -1) continue
    const name = seg.slice(0, semi)
    if (name === '.' || name === '..') {
      return reject('dot_segment_parameter', `dot segment with parameters '${excerpt(seg)}' at segment ${i + 1}`)
    }
    if (name === '') {
      return reject('empty_segment_parameter', `segment of parameters only '${excerpt(seg)}' at segment ${i + 1}`)
    }
  }

  // 7. Remove dot segments.
  const resolved: string[] = []
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]
    if (seg === '.') continue
    if (seg === '..') {
      if (resolved.length === 0) return reject('escapes_root', `'..' at segment ${i + 1} climbs above '/'`)
      resolved.pop()
      continue
    }
    resolved.push(seg)
  }
  const last = segments[segments.length - 1]
  if (last === '.' || last === '..') trailing = true

  // 9. Assemble.
  const path = `/${resolved.join('/')}${trailing && resolved.length > 0 ? '/' : ''}`
  const names: string[] = []
  for (const seg of resolved) {
    const semi = seg.indexOf(';')
    const name = semi === -1 ? seg : seg.slice(0, semi)
    if (name.length > 0) names.push(name)
  }
  const matchPath = `/${names.join('/')}${trailing && names.length > 0 ? '/' : ''}`
  return { ok: true, value: { path, matchPath, query } }
}
