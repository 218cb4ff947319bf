import t from 'tap'
import { freePort } from '../helpers/ports.js'
import { redisBackend, sessionBackendConformance } from '../helpers/session-backend-conformance.js'
import { SHARED_REDIS_URL } from '../helpers/stack.js'

// The shared standalone Redis, a key prefix per case; unreachable: a port nothing listens on.
const closedPort = await freePort()
sessionBackendConformance(t, {
  open: space => redisBackend(SHARED_REDIS_URL, space),
  shared: true,
  unreachable: () => redisBackend(`redis://127.0.0.1:${closedPort}`, 'unreachable'),
})
