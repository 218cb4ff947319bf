/**
 * Counts the WebSockets open through this gateway against
 * limits.max_websockets: a slot is taken when an upgrade is allowed and
 * given back when its connection closes.
 */
export class WebSocketSlots {
  readonly max: number
  #open = 0

  constructor (max: number) {
    this.max = max
  }

  get open (): number {
    return this.#open
  }

  /** Takes a slot until `socket` closes; false, taking none, when all are in use. */
  take (socket: { once (event: 'close', listener: () => void): unknown }, onClose?: (open: number) => void): boolean {
    if (this.#open >= this.max) return false
    this.#open++
    socket.once('close', () => {
      this.#open--
      onClose?.(this.#open)
    })
    return true
  }
}
