import { randomFillSync } from 'node:crypto'

/** W3C Trace Context of one request: what the upstream receives, and the trace id logs carry. */
export interface TraceContext {
  readonly traceparent: string
  /** Passed on only with the client's own traceparent; dropped when that one is replaced. */
  readonly tracestate: string | undefined
  readonly traceId: string
  /** True when the client's traceparent is passed on; false when the gateway made a new one. */
  readonly incoming: boolean
}

/**
 * version-traceid-parentid-flags, lower-case hex (W3C Trace Context level 1
 * and 2). Version ff is invalid; version 00 has exactly these four fields; a
 * later version may append `-` and more, which a proxy passes on unread.
 */
const TRACEPARENT = /^(?!ff)[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-[\x21-\x7e]*)?$/
const ZERO_TRACE = '0'.repeat(32)
const ZERO_PARENT = '0'.repeat(16)
const MAX_TRACEPARENT = 512

/**
 * The trace context to forward: the client's `traceparent` (and `tracestate`)
 * unchanged when it is valid; otherwise, absent or malformed (including two
 * traceparent headers, which arrive joined by a comma), a new one with a
 * random trace id and parent id, flagged as sampled (what the upstream's
 * tracer would decide for a request that starts a trace), and no tracestate.
 */
export function traceContext (traceparent: string | string[] | undefined, tracestate: string | string[] | undefined): TraceContext {
  if (typeof traceparent === 'string' && isValidTraceparent(traceparent)) {
    const state = Array.isArray(tracestate) ? tracestate.join(',') : tracestate
    return { traceparent, tracestate: state === '' ? undefined : state, traceId: traceparent.slice(3, 35), incoming: true }
  }
  const traceId = randomHex(16)
  return { traceparent: `00-${traceId}-${randomHex(8)}-01`, tracestate: undefined, traceId, incoming: false }
}

function isValidTraceparent (text: string): boolean {
  return text.length <= MAX_TRACEPARENT && TRACEPARENT.test(text) &&
    (text.length === 55 || !text.startsWith('00')) &&
    !text.startsWith(ZERO_TRACE, 3) && !text.startsWith(ZERO_PARENT, 36)
}

/**
 * Random ids come from a pool filled 4 KiB at a time: one call to the CSPRNG
 * serves a few hundred requests. An all-zero id (invalid) is drawn again.
 */
const pool = Buffer.alloc(4096)
let offset = pool.length

function randomHex (bytes: number): string {
  for (;;) {
    if (offset + bytes > pool.length) {
      randomFillSync(pool)
      offset = 0
    }
    const from = offset
    offset += bytes
    for (let i = from; i < offset; i++) {
      if (pool[i] !== 0) return pool.toString('hex', from, offset)
    }
  }
}
