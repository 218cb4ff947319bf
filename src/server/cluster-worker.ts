import { AggregatorRegistry } from 'prom-client'
import { isPrimaryMessage, type WorkerMessage } from './cluster-messages.js'
import type { Gateway } from './gateway.js'

function send (message: WorkerMessage): void {
  // The primary may be gone (the worker then exits: node:cluster sees to it).
  if (process.connected) process.send?.(message)
}

/**
 * A worker process's side of `workers`: its metrics go to the primary when
 * /metrics is scraped (prom-client's cluster protocol), its readiness when
 * /readyz is asked, and it says when its gateway listens.
 */
export function joinCluster (gateway: Gateway): void {
  AggregatorRegistry.setRegistries([gateway.metrics.registry])
  // Constructing one installs prom-client's listener that answers the primary with the registries above.
  void new AggregatorRegistry()
  process.on('message', (message: unknown) => {
    if (!isPrimaryMessage(message)) return
    void gateway.readiness().then(readiness => { send({ type: 'gatehouse:readiness', id: message.id, readiness }) })
  })
  send({ type: 'gatehouse:worker-started' })
}
