#!/usr/bin/env node
import cluster from 'node:cluster'
import { existsSync, writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { commandHelp, FLAGS, usage, usageProblem } from './cli-usage.js'
import { CONFIG_FILE_ENV } from './config/env.js'
import { loadConfig } from './config/load.js'
import { standaloneUpstream } from './config/standalone-upstream.js'
import { ConfigError, type Problem } from './errors.js'
import { identityFromClaims } from './identify/build-identity.js'
import { parseAddress } from './net/address.js'
import { explain, formatExplanation } from './policy/explain.js'
import { defaultPolicy, loadPolicy, type Policy, type PolicySettings } from './policy/load-policy.js'
import { createSessionStore, startGateway } from './server/start.js'
import { preflight } from './server/preflight.js'
import { ClusterPrimary, workerCount } from './server/cluster-primary.js'
import { joinCluster } from './server/cluster-worker.js'
import { createLogger } from './log/logger.js'
import { createAuditLog } from './log/audit.js'
import { runSessionsCommand } from './session/sessions-cli.js'
import { checkPolicyTests } from './policy-test/check-tests.js'
import { runTestCommand } from './policy-test/test-command.js'
import { runReplayCommand } from './replay/replay-command.js'
import { generateSigningKey, SIGNING_ALGORITHMS, type SigningAlgorithm } from './sign/keys.js'

function printProblems (problems: readonly Problem[]): void {
  for (const p of problems) process.stderr.write(`${p.where}: ${p.severity}: ${p.message}\n`)
}

function isAlgorithm (alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg)
}

const io = { out: (text: string) => { process.stdout.write(text) }, err: (text: string) => { process.stderr.write(text) } }

const list = (text: string | undefined): string[] => (text ?? '').split(',').map(s => s.trim()).filter(s => s !== '')

async function main (argv: string[]): Promise<number> {
  // The command and whether it takes the flags given, before any flag's value is read.
  const { tokens } = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: false, tokens: true })
  const command = tokens.find(token => token.kind === 'positional')?.value
  if (command !== undefined) {
    const problem = usageProblem(command, tokens.flatMap(token => token.kind === 'option' ? [token] : []))
    if (problem !== undefined) {
      process.stderr.write(`${problem}\n`)
      return 2
    }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true })
  } catch (err) {
    process.stderr.write(`gatehouse${command === undefined ? '' : ` ${command}`}: ${(err as Error).message}\n`)
    return 2
  }
  const { values, positionals } = parsed
  if (command === 'help' || values.help === true) {
    const about = command === 'help' ? positionals[1] : command
    process.stdout.write(about === undefined ? usage() : commandHelp(about))
    return 0
  }
  if (command === undefined) {
    process.stderr.write(usage())
    return 2
  }
  const file = values.config ?? process.env[CONFIG_FILE_ENV]

  /** The policy to check or explain: --policies alone, or the config's (with its default upstream). */
  const policyFor = (): { policy: Policy, warnings: Problem[], source: string, path: string | undefined, tests: string | undefined } => {
    // Policies alone: the default upstream from --upstream or the environment.
    let settings: PolicySettings = { defaultUpstream: standaloneUpstream(values.upstream, process.env) }
    let path = values.policies
    const warnings: Problem[] = []
    let tests: string | undefined
    if (values.policies === undefined || file !== undefined) {
      const loaded = loadConfig({ file, env: process.env, allowGeneratedKey: values.policies !== undefined })
      warnings.push(...loaded.warnings)
      const { upstream } = loaded.config
      settings = { defaultUpstream: upstream.url === undefined ? undefined : { url: upstream.url, timeoutMs: upstream.timeoutMs }, bearerConfigured: loaded.config.bearer !== undefined, provider: loaded.config.oidc.provider }
      path ??= loaded.config.policies
      tests = loaded.config.policy.tests
    }
    if (path === undefined) return { policy: defaultPolicy(settings), warnings, source: '(built-in: every path for any signed-in user)', path, tests }
    const result = loadPolicy(path, settings)
    return { policy: result.policy, warnings: [...warnings, ...result.warnings], source: path, path, tests }
  }

  switch (command) {
    case 'check': {
      // Everything serve would refuse before opening a socket, every problem in one run.
      const { problems, loaded, policy } = await preflight({ file, env: process.env, policies: values.policies, upstream: values.upstream })
      printProblems(problems)
      const errors = problems.filter(p => p.severity === 'error').length
      if (errors > 0) {
        if (file === undefined && problems.some(p => p.message.startsWith('upstream is required'))) process.stderr.write('hint: for policies checked without a config, give the default upstream with --upstream URL or GATEHOUSE_UPSTREAM_URL\n')
        process.stderr.write(`${errors} error(s); not valid\n`)
        return 1
      }
      if (loaded !== undefined) process.stdout.write(`configuration OK${file === undefined ? ' (from the environment)' : `: ${file}`}\n`)
      if (policy !== undefined) process.stdout.write(`policy OK: ${policy.source}: ${policy.policy.routes.length} route(s), ${policy.policy.upstreams.size} upstream(s), ${problems.length} warning(s)\n`)
      const tests = loaded?.config.policy.tests
      return tests === undefined || policy === undefined ? 0 : checkPolicyTests(policy.policy, tests, io)
    }
    case 'explain': {
      const url = positionals[1]
      if (url === undefined || positionals.length > 2) {
        process.stderr.write(`gatehouse explain: give one URL or path\n\n${commandHelp('explain')}`)
        return 2
      }
      // Without --ip, the request comes from this machine.
      const clientIp = parseAddress(values.ip ?? '127.0.0.1')
      if (clientIp === undefined) {
        process.stderr.write(`gatehouse explain: --ip ${values.ip ?? ''} is not an IP address\n`)
        return 2
      }
      const claims: Record<string, unknown> = {}
      for (const pair of values.claim ?? []) {
        const eq = pair.indexOf('=')
        if (eq <= 0) {
          process.stderr.write(`gatehouse explain: --claim takes NAME=VALUE, got "${pair}"\n`)
          return 2
        }
        const raw = pair.slice(eq + 1)
        let value: unknown = raw
        try { value = JSON.parse(raw) } catch { /* a plain string */ }
        claims[pair.slice(0, eq)] = value
      }
      const signedIn = values.user !== undefined || values.email !== undefined || values.groups !== undefined || values.roles !== undefined || values.amr !== undefined || Object.keys(claims).length > 0
      const identity = signedIn
        ? identityFromClaims({ ...claims, iss: 'explain', sub: values.user ?? 'user', email: values.email, groups: list(values.groups), roles: list(values.roles), amr: list(values.amr) }, { groupsClaim: 'groups', rolesClaim: 'roles' })
        : undefined
      let policy: Policy
      try {
        const loaded = policyFor()
        printProblems(loaded.warnings.filter(w => w.where !== 'redis.url'))
        policy = loaded.policy
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err.problems)
          return 1
        }
        throw err
      }
      const request = { method: values.method ?? 'GET', url, clientIp, identity }
      const result = explain(policy, request)
      if (values.json === true) {
        process.stdout.write(`${JSON.stringify({ outcome: result.outcome, route: result.route?.name, route_at: result.route?.where, path: result.path, reason: result.decision?.reason, rule: result.decision?.rule, because: result.because })}\n`)
      } else {
        process.stdout.write(formatExplanation(result, request))
      }
      return result.outcome === 'allow' ? 0 : 3
    }
    case 'test':
      return runTestCommand({ files: positionals.slice(1), reporter: values.reporter, coverage: values.coverage === true, requireCoverage: values['require-coverage'] === true }, () => { const p = policyFor(); printProblems(p.warnings); return p }, io)
    case 'replay':
      return await runReplayCommand({ decisions: [...(values.decisions ?? []), ...positionals.slice(1)], since: values.since, allowChanges: values['allow-changes'] === true, json: values.json === true }, () => policyFor().policy, io)
    case 'serve': {
      let started
      try {
        const loaded = loadConfig({ file, env: process.env })
        const workers = workerCount(loaded.config.workers)
        if (workers > 1 && cluster.isPrimary) {
          const log = createLogger({ level: loaded.config.log.level })
          for (const w of loaded.warnings) log.warn({ where: w.where }, w.message)
          process.exit(await new ClusterPrimary(loaded.config, log, workers).run())
        }
        const worker = cluster.isWorker ? cluster.worker : undefined
        started = await startGateway(worker === undefined
          ? { loaded }
          // A worker: the primary owns the admin listener, and said the config's warnings once.
          : { loaded: { ...loaded, warnings: [], config: { ...loaded.config, admin: { listen: undefined } } }, log: createLogger({ level: loaded.config.log.level }).child({ worker: worker.id }) })
        if (worker !== undefined) joinCluster(started.gateway)
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err.problems)
          process.stderr.write('gatehouse: not starting, the configuration is not valid\n')
          return 1
        }
        throw err
      }
      const { gateway, log } = started
      const grace = started.gateway.gracePeriodMs
      await new Promise<void>(resolve => {
        let stopping = false
        const stop = (signal: string): void => {
          // A worker hears Ctrl-C from the terminal and SIGTERM from its primary: one shutdown.
          if (stopping) return
          stopping = true
          // Stop accepting; requests in flight finish (new ones on open connections get 503) within the grace period.
          log.info({ event: 'shutdown.started', signal, gracePeriodMs: grace }, 'shutting down')
          const timer = setTimeout(() => { log.warn({ event: 'shutdown.grace_period_over', gracePeriodMs: grace }, 'grace period over; exiting with requests still open'); resolve() }, grace)
          timer.unref()
          gateway.close().then(() => { clearTimeout(timer); resolve() }, (err: unknown) => { log.error({ err }, 'error while shutting down'); resolve() })
        }
        process.once('SIGTERM', () => stop('SIGTERM'))
        process.once('SIGINT', () => stop('SIGINT'))
      })
      process.exit(0)
    }
    case 'sessions': {
      const action = positionals[1]
      if (action !== 'list' && action !== 'revoke') {
        process.stderr.write(`gatehouse sessions: say list or revoke\n\n${commandHelp('sessions')}`)
        return 2
      }
      let loaded
      try {
        loaded = loadConfig({ file, env: process.env, purpose: 'sessions' })
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err.problems)
          return 1
        }
        throw err
      }
      const log = createLogger({ level: 'silent' })
      // Revocations are audit events; without log.audit they go to stderr, so that stdout stays the command's output.
      let auditSink
      try {
        auditSink = createAuditLog(log, loaded.config.log.audit ?? 'stderr')
      } catch (err) {
        process.stderr.write(`gatehouse sessions: cannot open the audit log ${loaded.config.log.audit ?? ''}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`)
        return 1
      }
      const store = createSessionStore(loaded.config, log)
      try {
        await store.backend.connected(5000)
        return await runSessionsCommand({ action, user: values.user, session: values.session, all: values.all, json: values.json }, loaded, store, text => process.stdout.write(text), auditSink.audit)
      } catch (err) {
        process.stderr.write(`gatehouse sessions: ${(err as Error).message}\n`)
        return 1
      } finally {
        await store.close()
        auditSink.close()
      }
    }
    case 'keygen': {
      if (values.out === undefined) {
        process.stderr.write('gatehouse keygen: --out FILE is required\n')
        return 2
      }
      const alg = values.alg ?? 'ES256'
      if (!isAlgorithm(alg)) {
        process.stderr.write(`gatehouse keygen: --alg must be one of ${SIGNING_ALGORITHMS.join(', ')}\n`)
        return 2
      }
      if (values['if-missing'] === true && existsSync(values.out)) {
        process.stdout.write(`${values.out} exists; kept\n`)
        return 0
      }
      const key = await generateSigningKey(alg)
      writeFileSync(values.out, key.privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: values['if-missing'] === true ? 'wx' : 'w' })
      process.stdout.write(`wrote a new ${alg} signing key to ${values.out} (kid ${key.kid})\n`)
      return 0
    }
    default:
      process.stderr.write(usage())
      return 2
  }
}

main(process.argv.slice(2)).then(code => {
  // A worker's IPC channel to its primary would keep it running.
  if (cluster.isWorker) process.exit(code)
  process.exitCode = code
}, (err: unknown) => {
  process.stderr.write(`gatehouse: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
  if (cluster.isWorker) process.exit(1)
})
