import { inRanges, parseRange, type Cidr } from '../../net/address.js'
import { criterion, STRING_LIST } from './criterion.js'

/**
 * `ip`: the client address is in one of the ranges. IPv4-mapped IPv6
 * addresses were converted to IPv4 when the client address was resolved.
 */
export const ip = criterion({
  key: 'ip',
  field: 'ip',
  schema: { ...STRING_LIST, description: 'The client address is in one of these IPv4/IPv6 ranges (CIDR, or a single address)' },
  reason: 'network_not_allowed',
  needsUser: false,
  compile: (raw: readonly string[], ctx): readonly Cidr[] => {
    const ranges: Cidr[] = []
    raw.forEach((text, k) => {
      const cidr = parseRange(text)
      if (typeof cidr === 'string') ctx.error(ctx.at(k), cidr)
      else {
        ranges.push(cidr.range)
        if (cidr.hostBits) ctx.warn(ctx.at(k), `"${text}" has bits set after the prefix; it means ${cidr.range[0].toString()}/${cidr.range[1]}`)
      }
    })
    return ranges
  },
  test: (ranges, { clientIp }) => clientIp !== undefined && inRanges(clientIp, ranges),
  describe: () => 'not available from your network',
})
