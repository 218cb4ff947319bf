import ipaddr from 'ipaddr.js'

/** A range of addresses; IPv4-mapped IPv6 addresses are compared as IPv4. */
export type Cidr = readonly [ipaddr.IPv4 | ipaddr.IPv6, number]

export type Address = ipaddr.IPv4 | ipaddr.IPv6

/**
 * Whether the IPv4 part of an address (all of it, or the end of ::ffff:a.b.c.d)
 * is spelled other than as four decimal parts: ipaddr.js also reads 127.1,
 * 0x7f.0.0.1, 0177.0.0.1 and 2130706433.
 */
function oddIPv4 (text: string): boolean {
  const v4 = text.includes(':') ? (text.includes('.') ? text.slice(text.lastIndexOf(':') + 1) : undefined) : text
  return v4 !== undefined && !ipaddr.IPv4.isValidFourPartDecimal(v4)
}

/** Parses an address strictly (dotted-quad IPv4, any IPv6); IPv4-mapped IPv6 becomes IPv4. */
export function parseAddress (text: string): Address | undefined {
  const bare = text.trim()
  // Zone ids (fe80::1%eth0) name an interface of the sender, not an address of ours.
  if (bare.includes('%') || oddIPv4(bare)) return undefined
  if (!ipaddr.isValid(bare)) return undefined
  let addr: Address
  try {
    addr = ipaddr.parse(bare)
  } catch {
    return undefined
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) addr = (addr as ipaddr.IPv6).toIPv4Address()
  return addr
}

export function inRanges (addr: Address, ranges: readonly Cidr[]): boolean {
  return ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range as never, bits))
}

/** Parses a CIDR or a single address; IPv4-mapped IPv6 ranges become IPv4 ranges. */
export function parseRange (text: string): { range: Cidr, hostBits: boolean } | string {
  let addr: ipaddr.IPv4 | ipaddr.IPv6
  let bits: number
  if (text.includes('%') || (text.includes('/') && !/\/(0|[1-9][0-9]{0,2})$/.test(text))) return `"${text}" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)`
  try {
    if (text.includes('/')) {
      const [a, b] = ipaddr.parseCIDR(text)
      addr = a
      bits = b
    } else {
      addr = ipaddr.parse(text)
      bits = addr.kind() === 'ipv4' ? 32 : 128
    }
  } catch {
    return `"${text}" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)`
  }
  if (oddIPv4(text.split('/')[0] ?? '')) {
    return `"${text}" is not a dotted-quad IPv4 address; write all four parts in decimal`
  }
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
    addr = (addr as ipaddr.IPv6).toIPv4Address()
    bits -= 96
  }
  const network = ipaddr.parse(addr.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(`${addr.toString()}/${bits}`).toString()
    : ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/${bits}`).toString())
  const hostBits = network.toString() !== addr.toString()
  return { range: [network, bits], hostBits }
}

const texts = new WeakMap<Address, string>()

/** An address as text; remembered per address object (a socket's peer address is parsed once and reused). */
export function addressText (addr: Address): string {
  let text = texts.get(addr)
  if (text === undefined) {
    text = addr.toString()
    texts.set(addr, text)
  }
  return text
}
