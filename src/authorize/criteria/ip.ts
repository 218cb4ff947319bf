import { inRanges } from '../../net/address.js'
import type { Criterion } from './criterion.js'

/**
 * `ip`: the client address is in one of the ranges. IPv4-mapped IPv6
 * addresses were converted to IPv4 when the client address was resolved.
 */
export const ip: Criterion = {
  reason: 'network_not_allowed',
  needsUser: false,
  has: set => set.ip !== undefined,
  test: (set, { clientIp }) => clientIp !== undefined && inRanges(clientIp, set.ip ?? []),
  describe: () => 'not available from your network',
}
