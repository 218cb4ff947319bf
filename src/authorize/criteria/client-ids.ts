import { criterion, STRING_LIST } from './criterion.js'

/** `client_ids`: the bearer token was issued to one of these clients (`azp`, `appid` or `client_id`). */
export const clientIds = criterion({
  key: 'client_ids',
  field: 'clientIds',
  schema: { ...STRING_LIST, description: 'The bearer token was issued to one of these clients (azp / appid)' },
  reason: 'client_not_listed',
  needsUser: true,
  compile: (raw: readonly string[]) => raw,
  test: (ids, { identity }) => identity?.clientId !== undefined && ids.includes(identity.clientId),
  describe: () => 'available to listed client applications only',
})
