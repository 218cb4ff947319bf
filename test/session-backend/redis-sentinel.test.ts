import t from 'tap'
import { freePort } from '../helpers/ports.js'
import { startSentinelSet } from '../helpers/redis-topologies.js'
import { redisBackend, sessionBackendConformance } from '../helpers/session-backend-conformance.js'

// A master, a replica and a sentinel of this file's own; unreachable: a sentinel address nothing listens on.
const set = await startSentinelSet(t)
const closedPort = await freePort()
sessionBackendConformance(t, {
  open: space => redisBackend(set.url, space),
  shared: true,
  unreachable: () => redisBackend(`redis+sentinel://127.0.0.1:${closedPort}/${set.masterName}`, 'unreachable'),
})
