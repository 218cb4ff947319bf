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

t.test('a Cluster keeps the session cache bounded by cache_ttl (no tracking across nodes), and says so', async t => {
  const backend = redisBackend(cluster.url(), 'tracking')
  t.teardown(() => backend.close())
  await backend.connected(10_000)
  t.equal(backend.sessionCache, 'bounded')
})
