/** The Host header as routes match it: lower case, without port or trailing dot. */
export function normalizeHost (host: string | undefined): string {
  if (host === undefined) return ''
  let h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    h = end === -1 ? h : h.slice(0, end + 1)
  } else {
    const colon = h.lastIndexOf(':')
    if (colon !== -1) h = h.slice(0, colon)
  }
  return h.replace(/\.+$/, '')
}
