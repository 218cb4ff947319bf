import type { Criterion } from './criterion.js'

/** `client_ids`: the bearer token was issued to one of these clients (`azp`, `appid` or `client_id`). */
export const clientIds: Criterion = {
  reason: 'client_not_listed',
  needsUser: true,
  has: set => set.clientIds !== undefined,
  test: (set, { identity }) => identity?.clientId !== undefined && (set.clientIds ?? []).includes(identity.clientId),
  describe: () => 'available to listed client applications only',
}
