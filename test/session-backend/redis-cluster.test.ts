import t from 'tap'
import { freePort } from '../helpers/ports.js'
import { startRedisCluster } from '../helpers/redis-topologies.js'
import { redisBackend, sessionBackendConformance } from '../helpers/session-backend-conformance.js'

// A three-master Cluster of this file's own; unreachable: a seed address nothing listens on.
const cluster = await startRedisCluster(t)
const closedPort = await freePort()
sessionBackendConformance(t, {
  open: space => redisBackend(cluster.url(), space),
  shared: true,
  unreachable: () => redisBackend(`redis+cluster://127.0.0.1:${closedPort}`, 'unreachable'),
})
