import type { Address, Cidr } from '../net/address.js'
import { inRanges, parseAddress } from '../net/address.js'

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy.
 * Only then is X-Forwarded-For read, from the right, skipping trusted hops;
 * the first untrusted entry is the client. A malformed entry makes the
 * address unknown (undefined), which fails ip allow rules and matches ip deny
 * rules, rather than letting a client pick an address by writing garbage.
 */
export function clientAddress (peer: string | Address | undefined, forwardedFor: string | string[] | undefined, trusted: readonly Cidr[]): Address | undefined {
  const socket = typeof peer === 'string' ? parseAddress(peer) : peer
  if (socket === undefined || trusted.length === 0 || !inRanges(socket, trusted) || forwardedFor === undefined) return socket
  const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',').map(s => s.trim())
  if (entries.length === 1 && entries[0] === '') return socket
  let last: Address = socket
  for (let i = entries.length - 1; i >= 0; i--) {
    const addr = parseAddress(entries[i] as string)
    if (addr === undefined) return undefined
    if (!inRanges(addr, trusted)) return addr
    last = addr
  }
  return last
}

const peers = new WeakMap<object, Address>()

/** A connection's peer address, parsed once per connection (keep-alive connections carry many requests). */
export function peerAddress (socket: { readonly remoteAddress?: string | undefined }): Address | undefined {
  let addr = peers.get(socket)
  if (addr === undefined && socket.remoteAddress !== undefined) {
    addr = parseAddress(socket.remoteAddress)
    if (addr !== undefined) peers.set(socket, addr)
  }
  return addr
}
