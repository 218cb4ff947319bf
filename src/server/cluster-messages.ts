import type { Readiness } from './readiness.js'

/**
 * What the primary process and its workers say to each other over the
 * cluster's IPC channel (besides prom-client's own metrics requests).
 */
export type WorkerMessage =
  /** The worker's gateway is built and listening. */
  | { type: 'gatehouse:worker-started' }
  | { type: 'gatehouse:readiness', id: number, readiness: Readiness }

export type PrimaryMessage =
  | { type: 'gatehouse:readiness?', id: number }

function typed (message: unknown): string | undefined {
  return message !== null && typeof message === 'object' && typeof (message as { type?: unknown }).type === 'string' ? (message as { type: string }).type : undefined
}

export function isWorkerMessage (message: unknown): message is WorkerMessage {
  const type = typed(message)
  return type === 'gatehouse:worker-started' || type === 'gatehouse:readiness'
}

export function isPrimaryMessage (message: unknown): message is PrimaryMessage {
  return typed(message) === 'gatehouse:readiness?'
}
