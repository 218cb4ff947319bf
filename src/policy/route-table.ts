import type { HostPattern, PathPattern, Route } from './types.js'

/**
 * Routes compiled into segment tries, one per host pattern, so that finding
 * the route for a request costs time in the path's depth, not in the number
 * of routes. Semantics are "first route in file order whose match fits": a
 * lookup collects every route whose pattern fits and keeps the lowest index.
 * (find-my-way, the Fastify router, picks the most specific route instead,
 * which is not what an operator reading the file top to bottom expects.)
 */
class TrieNode {
  readonly exact = new Map<string, TrieNode>()
  star: TrieNode | undefined
  /** Routes whose pattern ends here with `/**`: they match this node and anything below. */
  readonly rest: number[] = []
  /** Routes whose pattern ends exactly here. */
  readonly end: number[] = []
}

class SegmentTrie {
  readonly #root = new TrieNode()

  insert (segments: readonly string[], index: number): void {
    let node = this.#root
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] as string
      if (segment === '**') {
        node.rest.push(index)
        return
      }
      if (segment === '*') {
        node.star ??= new TrieNode()
        node = node.star
      } else {
        let next = node.exact.get(segment)
        if (next === undefined) {
          next = new TrieNode()
          node.exact.set(segment, next)
        }
        node = next
      }
    }
    node.end.push(index)
  }

  /** Calls `visit` with every route index whose pattern fits `segments`. */
  collect (segments: readonly string[], visit: (index: number) => void): void {
    const walk = (node: TrieNode, i: number): void => {
      for (const index of node.rest) visit(index)
      if (i === segments.length) {
        for (const index of node.end) visit(index)
        return
      }
      const next = node.exact.get(segments[i] as string)
      if (next !== undefined) walk(next, i + 1)
      if (node.star !== undefined) walk(node.star, i + 1)
    }
    walk(this.#root, 0)
  }
}

export type RouteLookup =
  | { readonly kind: 'route', readonly route: Route }
  | { readonly kind: 'none' }
  /** The path as written selects another route than its folded form (case, look-alike letters, trailing dots) would: refused, since upstreams differ on these. */
  | { readonly kind: 'ambiguous_case', readonly asWritten: Route | undefined, readonly lowerCase: Route | undefined }

interface Tries { exact: SegmentTrie, folded: SegmentTrie }

function newTries (): Tries {
  return { exact: new SegmentTrie(), folded: new SegmentTrie() }
}

/** Words for an ambiguous_case lookup, for logs and explain. */
export function describeAmbiguity (lookup: { asWritten: Route | undefined, lowerCase: Route | undefined }): string {
  const name = (r: Route | undefined): string => r === undefined ? 'no route' : `route "${r.name}"`
  return `the path as written selects ${name(lookup.asWritten)}, but read without regard to case it selects ${name(lookup.lowerCase)}`
}

export class RouteTable {
  readonly routes: readonly Route[]
  readonly #anyHost = newTries()
  readonly #hosts = new Map<string, Tries>()
  readonly #wildcards = new Map<string, Tries>()
  readonly #hasWildcards: boolean
  readonly #patternsNeedFolding: boolean

  constructor (routes: readonly Route[]) {
    this.routes = routes
    for (const route of routes) {
      const folded = route.path.segments.map(s => s === '*' || s === '**' ? s : foldSegment(s))
      const targets = route.hosts === undefined ? [this.#anyHost] : route.hosts.map(h => this.#triesFor(h))
      for (const tries of targets) {
        tries.exact.insert(route.path.segments, route.index)
        tries.folded.insert(folded, route.index)
      }
    }
    this.#hasWildcards = this.#wildcards.size > 0
    this.#patternsNeedFolding = routes.some(r => r.path.segments.some(s => s !== '*' && s !== '**' && foldSegment(s) !== s))
  }

  #triesFor (host: HostPattern): Tries {
    const map = host.wildcard ? this.#wildcards : this.#hosts
    let tries = map.get(host.host)
    if (tries === undefined) {
      tries = newTries()
      map.set(host.host, tries)
    }
    return tries
  }

  /**
   * The route for a request. `host` is lower-case without port or trailing
   * dot; `path` is the canonical match path.
   */
  lookup (host: string, method: string, path: string): RouteLookup {
    const segments = splitPath(path)
    const route = this.#first(host, method, segments, false)
    // Only letters, escapes and trailing dots or spaces can make the folded lookup differ.
    if (!this.#patternsNeedFolding && !FOLDABLE.test(path)) return route === undefined ? { kind: 'none' } : { kind: 'route', route }
    const other = this.#first(host, method, segments.map(foldSegment), true)
    if (route?.index !== other?.index) return { kind: 'ambiguous_case', asWritten: route, lowerCase: other }
    return route === undefined ? { kind: 'none' } : { kind: 'route', route }
  }

  /**
   * The first earlier route that fits every request `route` fits, if any (it
   * makes `route` unreachable). Any such route fits `route`'s own pattern read
   * as a path, with each wildcard standing for a segment no literal can equal,
   * so the tries give a short list of candidates that are then checked exactly.
   */
  earlierCovering (route: Route): Route | undefined {
    const probe = route.path.segments.map(s => s === '*' || s === '**' ? '\u0000' : s)
    let best: Route | undefined
    const visit = (index: number): void => {
      const candidate = this.routes[index] as Route
      if (index < route.index && (best === undefined || index < best.index) && hostsCover(candidate.hosts, route.hosts) && methodsCover(candidate.methods, route.methods) && patternCovers(candidate.path, route.path)) best = candidate
    }
    this.#anyHost.exact.collect(probe, visit)
    for (const host of route.hosts ?? []) {
      if (!host.wildcard) this.#hosts.get(host.host)?.exact.collect(probe, visit)
      const name = host.host
      for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) this.#wildcards.get(name.slice(dot + 1))?.exact.collect(probe, visit)
      if (host.wildcard) this.#wildcards.get(name)?.exact.collect(probe, visit)
    }
    return best
  }

  #first (host: string, method: string, segments: readonly string[], folded: boolean): Route | undefined {
    let best = Number.POSITIVE_INFINITY
    const visit = (index: number): void => {
      if (index < best && methodFits(this.routes[index] as Route, method)) best = index
    }
    const search = (tries: Tries | undefined): void => {
      if (tries !== undefined) (folded ? tries.folded : tries.exact).collect(segments, visit)
    }
    search(this.#anyHost)
    search(this.#hosts.get(host))
    if (this.#hasWildcards) {
      // `*.example.com` fits any subdomain: try each parent domain of the host.
      for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) search(this.#wildcards.get(host.slice(dot + 1)))
    }
    return Number.isFinite(best) ? this.routes[best] : undefined
  }
}

function methodFits (route: Route, method: string): boolean {
  return route.methods === undefined || route.methods.has(method) || (method === 'HEAD' && route.methods.has('GET'))
}

const FOLDABLE = /[A-Z%]|[. ](\/|$)|%20(\/|$)/

/**
 * A segment as servers that ignore case read it: decoded, compatibility
 * characters and accents reduced to their base letters (ｆ, ſ, K, ı, İ
 * become f, s, k, i, i), lower case, and without the trailing dots and
 * spaces that Windows drops from names. Used only to detect paths that such
 * a server would route differently; it is never forwarded.
 */
export function foldSegment (segment: string): string {
  let text = segment
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text)
    } catch { /* canonical paths decode; keep the text otherwise */ }
  }
  return text.normalize('NFKD').replace(/\p{M}/gu, '').toUpperCase().toLowerCase().replace(/[. ]+$/, '')
}

/** Segments of a canonical path; a trailing slash does not change which route fits. */
export function splitPath (path: string): string[] {
  return path.split('/').filter(s => s !== '')
}

/** Whether every path that `b` fits is also fitted by `a` (for "can never match" warnings). */
export function patternCovers (a: PathPattern, b: PathPattern): boolean {
  const x = a.segments
  const y = b.segments
  for (let i = 0; i < x.length; i++) {
    const s = x[i]
    if (s === '**') return true
    const t = y[i]
    if (t === undefined || t === '**') return false
    if (s === '*') continue
    if (s !== t) return false
  }
  return x.length === y.length
}

/** Whether host pattern list `a` fits every host that `b` fits (undefined means any host). */
export function hostsCover (a: readonly HostPattern[] | undefined, b: readonly HostPattern[] | undefined): boolean {
  if (a === undefined) return true
  if (b === undefined) return false
  return b.every(hb => a.some(ha => ha.wildcard
    ? (hb.wildcard ? hb.host === ha.host || hb.host.endsWith(`.${ha.host}`) : hb.host.endsWith(`.${ha.host}`))
    : !hb.wildcard && ha.host === hb.host))
}

export function methodsCover (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined): boolean {
  if (a === undefined) return true
  if (b === undefined) return false
  return [...b].every(m => a.has(m) || (m === 'HEAD' && a.has('GET')))
}
