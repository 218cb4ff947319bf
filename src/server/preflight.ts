import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { loadConfig, type LoadedConfig } from '../config/load.js'
import { inFileOrder } from '../config/problem-order.js'
import { standaloneUpstream } from '../config/standalone-upstream.js'
import { ConfigError, type Problem } from '../errors.js'
import { defaultPolicy, loadPolicy, type Policy, type PolicySettings } from '../policy/load-policy.js'
import { loadSigningKey, readPrivateKey } from '../sign/keys.js'

export interface PreflightOptions {
  /** The config file, if any. */
  file: string | undefined
  env: Readonly<Record<string, string | undefined>>
  /** Policies to check instead of the config's; without a config file, only these are checked. */
  policies: string | undefined
  /** Policies alone: the default upstream (--upstream URL, else GATEHOUSE_UPSTREAM_URL). */
  upstream?: string | undefined
}

export interface Preflight {
  /** Errors and warnings of the config file, the signing key and the policies, each in file order. */
  problems: Problem[]
  loaded: LoadedConfig | undefined
  policy: { policy: Policy, source: string } | undefined
}

/**
 * Everything `serve` reads and checks before it opens a socket, checked in
 * one run so that one report lists every problem: the configuration, the
 * signing key it names (readable, a private key, fit for the algorithm) and
 * the policies. A config that fails still has its policies checked, found
 * as the file or the environment names them.
 */
export async function preflight (opts: PreflightOptions): Promise<Preflight> {
  const problems: Problem[] = []
  let loaded: LoadedConfig | undefined
  const checkConfig = opts.policies === undefined || opts.file !== undefined
  if (checkConfig) {
    try {
      loaded = loadConfig({ file: opts.file, env: opts.env, allowGeneratedKey: opts.policies !== undefined })
      problems.push(...loaded.warnings)
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      problems.push(...err.problems)
    }
  }
  const files = opts.file === undefined ? [] : [opts.file]
  const ordered = inFileOrder(problems, files)

  const named = checkConfig && loaded === undefined ? rawSettings(opts.file, opts.env) : undefined
  // The key of a config that failed is checked as a key; whether it fits the algorithm, once the config is valid.
  const keyFile = loaded?.config.signing.keyFile ?? named?.keyFile
  try {
    if (loaded !== undefined && keyFile !== undefined) await loadSigningKey(keyFile, loaded.config.signing.algorithm)
    else if (keyFile !== undefined) readPrivateKey(keyFile)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    ordered.push(...err.problems)
  }

  const settings: PolicySettings = loaded === undefined
    // Policies alone take the default upstream from --upstream or the environment; the timeout of a
    // config that failed is unknown (the policies are only checked, never used).
    ? { defaultUpstream: checkConfig ? (named?.upstreamUrl === undefined ? undefined : { url: named.upstreamUrl, timeoutMs: 0 }) : standalone(opts, ordered) }
    : {
        defaultUpstream: loaded.config.upstream.url === undefined ? undefined : { url: loaded.config.upstream.url, timeoutMs: loaded.config.upstream.timeoutMs },
        bearerConfigured: loaded.config.bearer !== undefined,
        provider: loaded.config.oidc.provider,
      }
  const path = opts.policies ?? loaded?.config.policies ?? named?.policies
  let policy: Preflight['policy']
  if (path === undefined && loaded !== undefined) policy = { policy: defaultPolicy(settings), source: '(built-in: every path for any signed-in user)' }
  if (path !== undefined) {
    try {
      const result = loadPolicy(path, settings)
      ordered.push(...result.warnings)
      policy = { policy: result.policy, source: path }
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      ordered.push(...err.problems)
    }
  }
  return { problems: ordered, loaded, policy }
}

/** `policies`, `upstream.url` and `signing.key_file` as a config that failed names them (the environment first, as loadConfig reads it). */
function rawSettings (file: string | undefined, env: Readonly<Record<string, string | undefined>>): { policies?: string | undefined, upstreamUrl?: string | undefined, keyFile?: string | undefined } {
  let value: { policies?: unknown, upstream?: { url?: unknown }, signing?: { key_file?: unknown } } = {}
  if (file !== undefined) {
    try {
      value = (parse(readFileSync(file, 'utf8')) ?? {}) as typeof value
    } catch { /* already reported */ }
  }
  const text = (v: unknown): string | undefined => typeof v === 'string' && v !== '' ? v : undefined
  return {
    policies: text(env.GATEHOUSE_POLICIES) ?? text(value.policies),
    upstreamUrl: text(env.GATEHOUSE_UPSTREAM_URL) ?? text(value.upstream?.url),
    keyFile: text(env.GATEHOUSE_SIGNING_KEY_FILE) ?? text(value.signing?.key_file),
  }
}

/** The default upstream for policies checked alone; a malformed one is a problem of its own. */
function standalone (opts: PreflightOptions, problems: Problem[]): { url: string, timeoutMs: number } | undefined {
  try {
    return standaloneUpstream(opts.upstream, opts.env)
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    problems.push(...err.problems)
    return undefined
  }
}
