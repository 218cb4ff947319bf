import { METHODS } from 'node:http'
import { normalizeHost, VALID_HOST } from '../net/host.js'

/** The request a proxy asks the gateway to check (forward-auth), as the proxy describes it. */
export interface OriginalRequest {
  readonly method: string
  /** The Host the client asked for, as routes match it (lower case, no port). */
  readonly host: string
  /** The request target as the client sent it: path and query, not yet canonical. */
  readonly target: string
  readonly proto: 'http' | 'https' | undefined
}

export type OriginalRequestResult =
  | { readonly ok: true, readonly value: OriginalRequest }
  /**
   * `incomplete`: the proxy did not say (a configuration mistake).
   * `ambiguous`: it said so in ways that disagree, repeat or cannot be read; never guessed at.
   */
  | { readonly ok: false, readonly kind: 'incomplete' | 'ambiguous', readonly reason: string, readonly detail: string }

/** Request headers as node keeps every line of them. */
export type DistinctHeaders = Readonly<Record<string, readonly string[] | undefined>>

/** Header names proxies use to describe the original request: Traefik's, then nginx's conventions. */
const URI_HEADERS = ['x-forwarded-uri', 'x-original-uri'] as const
const METHOD_HEADERS = ['x-forwarded-method', 'x-original-method'] as const
const HOST_HEADERS = ['x-forwarded-host'] as const
const PROTO_HEADERS = ['x-forwarded-proto'] as const
const URL_HEADER = 'x-original-url'

const KNOWN_METHODS = new Set(METHODS)
/** scheme://authority, then the target as sent (not parsed by a URL parser, which would resolve dot segments). */
const ABSOLUTE_URL = /^(https?):\/\/([^/?#@\\]+)((?:[/?])[^#]*)?$/i

interface Source { readonly from: string, readonly value: string }

/**
 * Reads the original method, host, target and scheme of a forward-auth
 * request. Header form (nginx auth_request, Traefik forwardAuth): from
 * X-Forwarded-Method/-Host/-Uri/-Proto and X-Original-Method/-URI/-URL, of
 * which the method, host and target are required. Path form (Envoy
 * ext_authz with a path prefix): `pathTarget` is the original target, and
 * the method and Host are the request's own.
 *
 * Every source present must agree with the others, and none may be repeated:
 * a client that adds a header of another convention, or a second copy, makes
 * the request ambiguous (refused), never decides it.
 */
export function originalRequest (headers: DistinctHeaders, pathForm: { target: string, method: string } | undefined): OriginalRequestResult {
  const sources = (names: readonly string[]): Source[] | OriginalRequestResult => {
    const found: Source[] = []
    for (const name of names) {
      const values = headers[name]
      if (values === undefined) continue
      if (values.length !== 1) return ambiguous('repeated_header', `${name} is sent ${values.length} times`)
      found.push({ from: name, value: values[0] as string })
    }
    return found
  }

  let urlParts: { proto: string, host: string, target: string } | undefined
  const urlSources = sources([URL_HEADER])
  if (!Array.isArray(urlSources)) return urlSources
  const url = urlSources[0]
  if (url !== undefined) {
    const match = ABSOLUTE_URL.exec(url.value)
    if (match === null) return ambiguous('bad_original_url', `${URL_HEADER} is not an absolute http(s) URL`)
    urlParts = { proto: (match[1] as string).toLowerCase(), host: match[2] as string, target: match[3] ?? '/' }
  }

  // Target
  const targets = sources(URI_HEADERS)
  if (!Array.isArray(targets)) return targets
  if (urlParts !== undefined) targets.push({ from: URL_HEADER, value: urlParts.target })
  if (pathForm !== undefined) targets.push({ from: 'the path after /.gatehouse/auth', value: pathForm.target })
  const target = agreed(targets, v => v, 'target')
  if (typeof target !== 'string') return target ?? incomplete('missing_original_uri', 'none of X-Forwarded-Uri, X-Original-URI, X-Original-URL')

  // Method
  const methods = sources(METHOD_HEADERS)
  if (!Array.isArray(methods)) return methods
  if (pathForm !== undefined) methods.push({ from: 'the request method', value: pathForm.method })
  const method = agreed(methods, v => v, 'method')
  if (typeof method !== 'string') return method ?? incomplete('missing_original_method', 'none of X-Forwarded-Method, X-Original-Method')
  if (!KNOWN_METHODS.has(method)) return ambiguous('bad_method', 'the original method is not an HTTP method in capitals')

  // Host
  const hosts = sources(HOST_HEADERS)
  if (!Array.isArray(hosts)) return hosts
  if (urlParts !== undefined) hosts.push({ from: URL_HEADER, value: urlParts.host })
  if (pathForm !== undefined) {
    const own = headers.host
    if (own !== undefined && own.length === 1) hosts.push({ from: 'host', value: own[0] as string })
  }
  for (const h of hosts) if (!VALID_HOST.test(h.value)) return ambiguous('bad_host', `${h.from} is not a host name or address`)
  const host = agreed(hosts, normalizeHost, 'host')
  if (typeof host !== 'string') return host ?? incomplete('missing_original_host', 'none of X-Forwarded-Host, X-Original-URL')

  // Scheme (optional)
  const protos = sources(PROTO_HEADERS)
  if (!Array.isArray(protos)) return protos
  if (urlParts !== undefined) protos.push({ from: URL_HEADER, value: urlParts.proto })
  for (const p of protos) if (p.value !== 'http' && p.value !== 'https') return ambiguous('bad_proto', `${p.from} is neither http nor https`)
  const proto = agreed(protos, v => v, 'scheme')
  if (proto !== undefined && typeof proto !== 'string') return proto

  return { ok: true, value: { method, host, target, proto: proto as 'http' | 'https' | undefined } }
}

/** The one value every source gives (compared after `normalize`), undefined when there is none, or a refusal when they differ. */
function agreed (sources: readonly Source[], normalize: (value: string) => string, what: string): string | OriginalRequestResult | undefined {
  const first = sources[0]
  if (first === undefined) return undefined
  const value = normalize(first.value)
  const other = sources.find(s => normalize(s.value) !== value)
  if (other !== undefined) return ambiguous('conflicting_headers', `${first.from} and ${other.from} name different ${what}s`)
  return value
}

function incomplete (reason: string, detail: string): OriginalRequestResult {
  return { ok: false, kind: 'incomplete', reason, detail }
}

function ambiguous (reason: string, detail: string): OriginalRequestResult {
  return { ok: false, kind: 'ambiguous', reason, detail }
}
