/**
 * An email claim is one RFC 5322 addr-spec (section 3.4.1), in the form a
 * mailbox has on the wire today, with RFC 6532's UTF-8 allowed:
 *
 * - local part: a dot-atom (atext runs joined by single dots) or a quoted
 *   string (any printable character or space; `\` quotes the next one);
 * - exactly one `@` outside that quoted string;
 * - domain: DNS labels of letters, digits and inner hyphens (non-ASCII
 *   letters allowed), 1 to 63 characters each, at least two labels;
 * - no control characters anywhere, no comments, no folding white space, no
 *   obsolete forms, no domain literals (`[192.0.2.1]`), no list or group
 *   syntax: nothing else passes for an address.
 *
 * Written here rather than taken from a library: the RFC 5322 parsers on the
 * registry accept comments, white space, display names and domains that are
 * no DNS name, and give back a quoted local part unquoted, so that the text
 * an upstream would receive reads as two addresses again.
 */
export interface EmailAddress {
  /** The local part as written (a quoted one with its quotes). */
  readonly local: string
  /** The domain, in lower case. */
  readonly domain: string
}

const MAX_LOCAL_OCTETS = 64
const MAX_ADDRESS_OCTETS = 254

/** RFC 5322 atext, plus RFC 6532's non-ASCII (not controls, format characters or separators). */
const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u{80}-\u{10FFFF}]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u{80}-\u{10FFFF}]+)*$/u
/** A quoted string: qtext (printable, space, non-ASCII; not `"` or `\`) or a quoted pair. */
const QUOTED = /^"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u{80}-\u{10FFFF}]|\\[\x20-\x7e\u{80}-\u{10FFFF}])*"$/u
const LABEL = /^[\p{L}\p{N}](?:[\p{L}\p{N}\p{M}-]{0,61}[\p{L}\p{N}\p{M}])?$/u
const FORBIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/u

/** The address, or undefined when the text is not exactly one addr-spec. */
export function parseEmailAddress (text: string): EmailAddress | undefined {
  if (text.length === 0 || Buffer.byteLength(text) > MAX_ADDRESS_OCTETS || FORBIDDEN.test(text)) return undefined
  // The `@` that separates is the last one: a quoted local part may hold others, the domain none.
  const at = text.lastIndexOf('@')
  if (at <= 0) return undefined
  const local = text.slice(0, at)
  const domain = text.slice(at + 1)
  if (Buffer.byteLength(local) > MAX_LOCAL_OCTETS) return undefined
  if (!DOT_ATOM.test(local) && !QUOTED.test(local)) return undefined
  const labels = domain.split('.')
  if (labels.length < 2 || !labels.every(label => LABEL.test(label))) return undefined
  return { local, domain: domain.toLowerCase() }
}

/** The claim when it is a string that is exactly one address; anything else is no email. */
export function emailClaim (value: unknown): string | undefined {
  return typeof value === 'string' && parseEmailAddress(value) !== undefined ? value : undefined
}
