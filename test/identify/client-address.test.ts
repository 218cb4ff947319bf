import t from 'tap'
import { clientAddress, peerAddress } from '../../src/identify/client-address.js'
import { inRanges, parseAddress, parseRange, type Cidr } from '../../src/net/address.js'

function ranges (...texts: string[]): Cidr[] {
  return texts.map(text => {
    const r = parseRange(text)
    if (typeof r === 'string') throw new Error(r)
    return r.range
  })
}

function show (addr: { toString (): string, kind (): string } | undefined): string | undefined {
  return addr === undefined ? undefined : `${addr.kind()} ${addr.toString()}`
}

const NONE: Cidr[] = []
const PROXIES = ranges('127.0.0.0/8', '10.0.0.0/8')
const V6_PROXIES = ranges('::1', '2001:db8::/32')

t.test('clientAddress', async t => {
  // [peer, X-Forwarded-For, trusted, expected ('ipv4 1.2.3.4' or undefined), name]
  const rows: Array<[string | undefined, string | string[] | undefined, Cidr[], string | undefined, string]> = [
    // no trusted proxies: X-Forwarded-For is ignored entirely, even when malformed
    ['203.0.113.5', '1.2.3.4', NONE, 'ipv4 203.0.113.5', 'no trusted proxies'],
    ['10.0.0.2', '1.2.3.4', NONE, 'ipv4 10.0.0.2', 'no trusted proxies, private peer'],
    ['203.0.113.5', 'unknown', NONE, 'ipv4 203.0.113.5', 'no trusted proxies, garbage'],
    ['203.0.113.5', undefined, NONE, 'ipv4 203.0.113.5', 'no trusted proxies, no header'],
    // a peer that is not trusted: its header is ignored
    ['203.0.113.5', '1.2.3.4', PROXIES, 'ipv4 203.0.113.5', 'untrusted peer'],
    ['203.0.113.5', '127.0.0.1', PROXIES, 'ipv4 203.0.113.5', 'untrusted peer claiming a trusted address'],
    ['203.0.113.5', 'unknown', PROXIES, 'ipv4 203.0.113.5', 'untrusted peer, garbage'],
    ['11.0.0.1', '1.2.3.4', PROXIES, 'ipv4 11.0.0.1', 'just outside the trusted range'],
    // a trusted peer: read from the right, skip trusted hops, the first untrusted entry is the client
    ['10.0.0.2', '1.2.3.4', PROXIES, 'ipv4 1.2.3.4', 'one entry'],
    ['10.0.0.2', '1.1.1.1, 2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'two entries: the rightmost untrusted'],
    ['10.0.0.2', '6.6.6.6, 2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'an entry the client wrote is never reached'],
    ['10.0.0.2', '1.1.1.1, 2.2.2.2, 10.0.0.9, 127.0.0.1', PROXIES, 'ipv4 2.2.2.2', 'trusted hops skipped'],
    ['127.0.0.1', '10.9.9.9, 10.8.8.8', PROXIES, 'ipv4 10.9.9.9', 'every entry trusted: the leftmost'],
    ['127.0.0.1', '10.9.9.9', PROXIES, 'ipv4 10.9.9.9', 'one trusted entry'],
    // several header values
    ['10.0.0.2', ['1.1.1.1, 2.2.2.2', '3.3.3.3'], PROXIES, 'ipv4 3.3.3.3', 'two header values: the last one is the nearest'],
    ['10.0.0.2', ['1.1.1.1', '10.0.0.5'], PROXIES, 'ipv4 1.1.1.1', 'two header values, the last trusted'],
    ['10.0.0.2', ['4.4.4.4'], PROXIES, 'ipv4 4.4.4.4', 'one header value in a list'],
    // spaces
    ['10.0.0.2', '  1.1.1.1 ,2.2.2.2  ', PROXIES, 'ipv4 2.2.2.2', 'spaces around entries'],
    ['10.0.0.2', '1.1.1.1,\t2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'a tab'],
    ['10.0.0.2', '1.1.1.1,2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'no spaces'],
    // an empty header is no header
    ['10.0.0.2', undefined, PROXIES, 'ipv4 10.0.0.2', 'trusted peer, no header'],
    ['10.0.0.2', '', PROXIES, 'ipv4 10.0.0.2', 'trusted peer, empty header'],
    ['10.0.0.2', '   ', PROXIES, 'ipv4 10.0.0.2', 'trusted peer, blank header'],
    ['10.0.0.2', [], PROXIES, 'ipv4 10.0.0.2', 'trusted peer, no header values'],
    // malformed entries that are read make the address unknown
    ['10.0.0.2', 'unknown', PROXIES, undefined, 'unknown'],
    ['10.0.0.2', '1.1.1.1, unknown', PROXIES, undefined, 'unknown, rightmost'],
    ['10.0.0.2', '1.2.3', PROXIES, undefined, '1.2.3'],
    ['10.0.0.2', '0x7f.1', PROXIES, undefined, '0x7f.1'],
    ['10.0.0.2', '127.1', PROXIES, undefined, '127.1'],
    ['10.0.0.2', '0177.0.0.1', PROXIES, undefined, '0177.0.0.1 (octal)'],
    ['10.0.0.2', '01.2.3.4', PROXIES, undefined, '01.2.3.4 (leading zero)'],
    ['10.0.0.2', '2130706433', PROXIES, undefined, '2130706433 (one number)'],
    ['10.0.0.2', '0x7f000001', PROXIES, undefined, '0x7f000001 (one hex number)'],
    ['10.0.0.2', '::ffff:0x7f.0.0.1', PROXIES, undefined, 'IPv4-mapped with a hex part'],
    ['10.0.0.2', '1.2.3.4:80', PROXIES, undefined, 'with a port'],
    ['10.0.0.2', '[::1]', PROXIES, undefined, 'IPv6 in brackets'],
    ['10.0.0.2', '[2001:db8::1]:443', PROXIES, undefined, 'IPv6 in brackets with a port'],
    ['10.0.0.2', '256.1.1.1', PROXIES, undefined, 'out of range'],
    ['10.0.0.2', 'localhost', PROXIES, undefined, 'a name'],
    ['10.0.0.2', '1.1.1.1, 2.2.2.2,', PROXIES, undefined, 'a trailing empty entry'],
    ['10.0.0.2', '1.1.1.1, , 10.0.0.3', PROXIES, undefined, 'an empty entry between trusted hops'],
    ['10.0.0.2', '1.1.1.1, unknown, 10.0.0.3', PROXIES, undefined, 'garbage between trusted hops'],
    ['10.0.0.2', ['', ''], PROXIES, undefined, 'two empty header values'],
    // ...but garbage left of the client is never read
    ['10.0.0.2', 'unknown, 2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'garbage left of the client'],
    ['10.0.0.2', '1.1.1.1,,2.2.2.2', PROXIES, 'ipv4 2.2.2.2', 'an empty entry left of the client'],
    // IPv4-mapped peers and entries
    ['::ffff:127.0.0.1', '1.2.3.4', PROXIES, 'ipv4 1.2.3.4', 'IPv4-mapped peer in 127.0.0.0/8'],
    ['::ffff:10.1.1.1', '1.2.3.4, 10.0.0.7', PROXIES, 'ipv4 1.2.3.4', 'IPv4-mapped peer in 10.0.0.0/8'],
    ['::ffff:203.0.113.5', '1.2.3.4', PROXIES, 'ipv4 203.0.113.5', 'IPv4-mapped untrusted peer, as IPv4'],
    ['10.0.0.2', '::ffff:1.2.3.4', PROXIES, 'ipv4 1.2.3.4', 'an IPv4-mapped entry, as IPv4'],
    ['10.0.0.2', '1.2.3.4, ::ffff:10.0.0.9', PROXIES, 'ipv4 1.2.3.4', 'an IPv4-mapped trusted hop'],
    // IPv6 peers
    ['::1', '1.2.3.4', PROXIES, 'ipv6 ::1', 'IPv6 loopback is not 127.0.0.0/8'],
    ['::1', '1.2.3.4', V6_PROXIES, 'ipv4 1.2.3.4', 'IPv6 loopback trusted'],
    ['2001:db8::1', '2001:db8:ffff::1, 2001:db9::7', V6_PROXIES, 'ipv6 2001:db9::7', 'IPv6 chain'],
    ['2001:db8::1', '2001:db9::7, 2001:db8:ffff::1', V6_PROXIES, 'ipv6 2001:db9::7', 'IPv6 trusted hop skipped'],
    ['2001:DB8::1', '2001:0DB9:0000::0007', V6_PROXIES, 'ipv6 2001:db9::7', 'IPv6 written in upper case and long form'],
    ['2001:db9::1', '1.2.3.4', V6_PROXIES, 'ipv6 2001:db9::1', 'IPv6 untrusted peer'],
    ['10.0.0.2', '1.2.3.4', V6_PROXIES, 'ipv4 10.0.0.2', 'IPv4 peer, only IPv6 ranges trusted'],
    // no usable peer
    [undefined, '1.2.3.4', PROXIES, undefined, 'no peer'],
    ['garbage', '1.2.3.4', PROXIES, undefined, 'a peer that is not an address'],
    ['', undefined, NONE, undefined, 'an empty peer'],
  ]
  for (const [peer, xff, trusted, expected, name] of rows) {
    t.equal(show(clientAddress(peer, xff, trusted)), expected, `${name}: ${JSON.stringify(peer)} ${JSON.stringify(xff)} -> ${expected ?? 'unknown'}`)
  }
})

t.test('parseAddress: dotted-quad IPv4 and IPv6 only; IPv4-mapped becomes IPv4', async t => {
  const rows: Array<[string, string | undefined]> = [
    ['1.2.3.4', 'ipv4 1.2.3.4'],
    [' 1.2.3.4 ', 'ipv4 1.2.3.4'],
    ['0.0.0.0', 'ipv4 0.0.0.0'],
    ['255.255.255.255', 'ipv4 255.255.255.255'],
    ['::1', 'ipv6 ::1'],
    ['::', 'ipv6 ::'],
    ['2001:DB8:0:0::1', 'ipv6 2001:db8::1'],
    ['::ffff:127.0.0.1', 'ipv4 127.0.0.1'],
    ['::ffff:7f00:1', 'ipv4 127.0.0.1'],
    ['::FFFF:10.1.2.3', 'ipv4 10.1.2.3'],
    ['64:ff9b::1.2.3.4', 'ipv6 64:ff9b::102:304'],
    // refused
    ['', undefined],
    ['unknown', undefined],
    ['1.2.3', undefined],
    ['127.1', undefined],
    ['0x7f.1', undefined],
    ['0x7f.0.0.1', undefined],
    ['0177.0.0.1', undefined],
    ['01.2.3.4', undefined],
    ['1.2.3.04', undefined],
    ['2130706433', undefined],
    ['0x7f000001', undefined],
    ['017700000001', undefined],
    ['256.1.1.1', undefined],
    ['1.2.3.4.', undefined],
    ['1e1.1.1.1', undefined],
    ['1.2.3.4/32', undefined],
    ['1.2.3.4:80', undefined],
    ['[::1]', undefined],
    ['::ffff:127.1', undefined],
    ['::ffff:1.2.3', undefined],
    ['::ffff:0x7f.0.0.1', undefined],
    ['::ffff:0177.0.0.1', undefined],
    ['1:2:3:4:5:6:7:8:9', undefined],
    ['localhost', undefined],
  ]
  for (const [text, expected] of rows) t.equal(show(parseAddress(text)), expected, `${JSON.stringify(text)} -> ${expected ?? 'refused'}`)
})

t.test('parseRange: CIDR or one address; mapped ranges become IPv4; host bits flagged', async t => {
  const rows: Array<[string, string]> = [
    ['10.0.0.0/8', 'ipv4 10.0.0.0/8'],
    ['10.0.0.1/8', 'ipv4 10.0.0.0/8 host bits'],
    ['10.255.255.255/8', 'ipv4 10.0.0.0/8 host bits'],
    ['192.0.2.7', 'ipv4 192.0.2.7/32'],
    ['192.0.2.7/32', 'ipv4 192.0.2.7/32'],
    ['0.0.0.0/0', 'ipv4 0.0.0.0/0'],
    ['1.2.3.4/0', 'ipv4 0.0.0.0/0 host bits'],
    ['2001:db8::/32', 'ipv6 2001:db8::/32'],
    ['2001:db8::1/32', 'ipv6 2001:db8::/32 host bits'],
    ['2001:DB8::/32', 'ipv6 2001:db8::/32'],
    ['::1', 'ipv6 ::1/128'],
    ['::/0', 'ipv6 ::/0'],
    // IPv4-mapped ranges are IPv4 ranges
    ['::ffff:10.0.0.0/104', 'ipv4 10.0.0.0/8'],
    ['::ffff:10.0.0.1/120', 'ipv4 10.0.0.0/24 host bits'],
    ['::ffff:10.0.0.1', 'ipv4 10.0.0.1/32'],
    ['::ffff:0:0/96', 'ipv4 0.0.0.0/0'],
    ['::ffff:a00:0/104', 'ipv4 10.0.0.0/8'],
    // refused
    ['10.0.0.0/33', '"10.0.0.0/33" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['2001:db8::/129', '"2001:db8::/129" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['not-an-ip', '"not-an-ip" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['10.0.0.0/', '"10.0.0.0/" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['10.0.0.0/8/8', '"10.0.0.0/8/8" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['10.0.0.0/-1', '"10.0.0.0/-1" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    [' 10.0.0.0/8', '" 10.0.0.0/8" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['', '"" is not an IP address or range (e.g. 10.0.0.0/8, fd00::/8, 192.0.2.7)'],
    ['10.1', '"10.1" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ['10.1/16', '"10.1/16" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ['0x0a.0.0.0/8', '"0x0a.0.0.0/8" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ['010.0.0.0/8', '"010.0.0.0/8" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ['167772160', '"167772160" is not a dotted-quad IPv4 address; write all four parts in decimal'],
    ['::ffff:0x0a.0.0.0/104', '"::ffff:0x0a.0.0.0/104" is not a dotted-quad IPv4 address; write all four parts in decimal'],
  ]
  for (const [text, expected] of rows) {
    const r = parseRange(text)
    const found = typeof r === 'string' ? r : `${r.range[0].kind()} ${r.range[0].toString()}/${r.range[1]}${r.hostBits ? ' host bits' : ''}`
    t.equal(found, expected, JSON.stringify(text))
  }
})

t.test('inRanges', async t => {
  const rows: Array<[string, string[], boolean]> = [
    ['10.1.2.3', ['10.0.0.0/8'], true],
    ['10.0.0.0', ['10.0.0.0/8'], true],
    ['10.255.255.255', ['10.0.0.0/8'], true],
    ['11.0.0.0', ['10.0.0.0/8'], false],
    ['9.255.255.255', ['10.0.0.0/8'], false],
    ['192.0.2.7', ['192.0.2.7'], true],
    ['192.0.2.8', ['192.0.2.7'], false],
    ['192.0.2.8', ['10.0.0.0/8', '192.0.2.0/28'], true],
    ['192.0.2.8', ['10.0.0.0/8', '192.0.2.0/29'], false],
    ['::ffff:10.1.2.3', ['10.0.0.0/8'], true],
    ['10.1.2.3', ['::ffff:10.0.0.0/104'], true],
    ['::ffff:10.1.2.3', ['::ffff:10.0.0.0/104'], true],
    ['1.2.3.4', ['0.0.0.0/0'], true],
    ['::1', ['0.0.0.0/0'], false],
    ['1.2.3.4', ['::/0'], false],
    ['::ffff:1.2.3.4', ['::/0'], false],
    ['2001:db8::5', ['::/0'], true],
    ['2001:db8:1::5', ['2001:db8::/32'], true],
    ['2001:db9::5', ['2001:db8::/32'], false],
    ['::a00:1', ['10.0.0.0/8'], false],
    ['10.0.0.1', [], false],
  ]
  for (const [addr, texts, expected] of rows) {
    const a = parseAddress(addr)
    if (a === undefined) throw new Error(`not an address: ${addr}`)
    t.equal(inRanges(a, ranges(...texts)), expected, `${addr} in [${texts.join(', ')}]: ${expected}`)
  }
})

t.test('peerAddress: a connection\'s address is parsed once and reused', async t => {
  const socket = { remoteAddress: '::ffff:192.0.2.7' }
  const first = peerAddress(socket)
  t.equal(first?.toString(), '192.0.2.7', 'IPv4-mapped becomes IPv4')
  t.equal(peerAddress(socket), first, 'the same parsed address for the next request on the connection')
  t.equal(peerAddress({ remoteAddress: undefined }), undefined, 'a closed socket has no address')
  t.equal(peerAddress({ remoteAddress: 'fe80::1%eth0' }), undefined, 'an address with a zone is not an address')
  t.equal(clientAddress(first, undefined, []), first, 'clientAddress takes a parsed peer address as well')
})
