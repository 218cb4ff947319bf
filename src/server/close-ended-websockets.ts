import type { Logger } from '../log/logger.js'
import type { OpenWebSockets } from '../proxy/open-websockets.js'
import { shortId, type SessionStore } from '../session/session-store.js'

/**
 * Closes the WebSockets of every session that ends: at once for a session
 * ended through this gateway (sign-out, expiry, a refused refresh, a
 * revocation), and, for a session another gateway or Redis itself changed,
 * once a read of the store shows that it is gone (most changes are writes of
 * a session that goes on). When changes may have been missed, every session
 * with a WebSocket open is read again. A store that does not answer closes
 * nothing: the next change or reconnect reads again.
 */
export function closeEndedWebSockets (store: SessionStore, sockets: OpenWebSockets, log: Logger): void {
  const closed = (ids: readonly string[], source: 'here' | 'store'): void => {
    const count = sockets.close(ids)
    if (count > 0) log.info({ event: 'websocket.session_ended', sessions: ids.map(shortId), sockets: count, source }, 'WebSockets closed: their session ended')
  }
  store.onChange(change => {
    if (change.kind === 'ended') {
      closed(change.ids, 'here')
      return
    }
    for (const id of (change.ids ?? sockets.sessions).filter(id => sockets.has(id))) {
      store.get(id, { fresh: true }).then(record => { if (record === undefined) closed([id], 'store') }, (err: Error) => {
        log.debug({ event: 'websocket.session_unknown', session: shortId(id), err: { message: err.message } }, 'could not read a changed session; its WebSockets stay open until the next change')
      })
    }
  })
}
