/**
 * The path forwarded for a route with `rewrite_prefix`: the route's literal
 * prefix (`from`, e.g. /reports for /reports/**) is replaced by `to`. The
 * prefix is removed segment by segment, as the route matched it (segment names
 * without ;parameters), never by character count.
 */
export function rewritePath (path: string, from: string, to: string): string {
  const prefix = from.split('/').filter(s => s !== '')
  const segments = path.split('/').filter(s => s !== '')
  const trailing = path.length > 1 && path.endsWith('/')
  let matched = 0
  let i = 0
  while (matched < prefix.length && i < segments.length) {
    const name = (segments[i] as string).split(';', 1)[0]
    i++
    if (name !== '') matched++
  }
  const rest = segments.slice(i)
  const base = to === '/' ? '' : to.replace(/\/$/, '')
  if (rest.length === 0) return base === '' ? '/' : `${base}${trailing ? '/' : ''}`
  return `${base}/${rest.join('/')}${trailing ? '/' : ''}`
}
