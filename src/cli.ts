#!/usr/bin/env node
import { parseArgs } from 'node:util'
import { loadConfig } from './config/load.js'
import { CONFIG_FILE_ENV } from './config/env.js'
import { ConfigError, type Problem } from './errors.js'
import { startGateway } from './server/start.js'
import { generateSigningKey, SIGNING_ALGORITHMS, type SigningAlgorithm } from './sign/keys.js'
import { existsSync, writeFileSync } from 'node:fs'

const USAGE = `Usage:
  gatehouse serve [--config FILE]   start the gateway
  gatehouse check [--config FILE]   validate the configuration and exit
  gatehouse keygen --out FILE [--alg ES256] [--if-missing]
                                    write a new private signing key (PEM)

The config file may also be named by ${CONFIG_FILE_ENV}; every key can be set
from the environment as GATEHOUSE_<SECTION>_<KEY> (see README).`

function printProblems (problems: readonly Problem[]): void {
  for (const p of problems) process.stderr.write(`${p.where}: ${p.severity}: ${p.message}\n`)
}

function isAlgorithm (alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg)
}

async function main (argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        alg: { type: 'string' },
        'if-missing': { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    })
  } catch (err) {
    process.stderr.write(`gatehouse: ${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const { values, positionals } = parsed
  const command = positionals[0]
  if (values.help === true || command === undefined) {
    process.stdout.write(`${USAGE}\n`)
    return command === undefined && values.help !== true ? 2 : 0
  }
  const file = values.config ?? process.env[CONFIG_FILE_ENV]

  switch (command) {
    case 'check': {
      try {
        const { warnings } = loadConfig({ file, env: process.env })
        printProblems(warnings)
        process.stdout.write(`configuration OK${file === undefined ? ' (from the environment)' : `: ${file}`}\n`)
        return 0
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err.problems)
          process.stderr.write(`${err.problems.filter(p => p.severity === 'error').length} error(s); the configuration is not valid\n`)
          return 1
        }
        throw err
      }
    }
    case 'serve': {
      let started
      try {
        started = await startGateway({ loaded: loadConfig({ file, env: process.env }) })
      } catch (err) {
        if (err instanceof ConfigError) {
          printProblems(err.problems)
          process.stderr.write('gatehouse: not starting, the configuration is not valid\n')
          return 1
        }
        throw err
      }
      const { gateway, log } = started
      await new Promise<void>(resolve => {
        const stop = (signal: string): void => {
          log.info({ signal }, 'shutting down')
          gateway.close().then(resolve, (err: unknown) => { log.error({ err }, 'error while shutting down'); resolve() })
        }
        process.once('SIGTERM', () => stop('SIGTERM'))
        process.once('SIGINT', () => stop('SIGINT'))
      })
      return 0
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
      process.stderr.write(`gatehouse: unknown command "${command}"\n${USAGE}\n`)
      return 2
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => {
  process.stderr.write(`gatehouse: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
