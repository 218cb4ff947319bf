import type { ParseArgsConfig } from 'node:util'
import { CONFIG_FILE_ENV } from './config/env.js'
import { nearest } from './config/nearest.js'

/**
 * The command line's commands and flags, and the help made from them. A new
 * command is one entry of COMMANDS (and its new flags, if any, entries of
 * FLAGS); `gatehouse help`, `gatehouse <command> --help` and the check for
 * unknown flags all read these two tables.
 */

interface Flag {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** The value's name in the help: `--out FILE`. */
  value?: string
}

export const FLAGS = {
  config: { type: 'string', short: 'c', value: 'FILE' },
  policies: { type: 'string', short: 'p', value: 'PATH' },
  upstream: { type: 'string', value: 'URL' },
  help: { type: 'boolean', short: 'h' },
  out: { type: 'string', value: 'FILE' },
  alg: { type: 'string', value: 'ALG' },
  'if-missing': { type: 'boolean' },
  method: { type: 'string', short: 'X', value: 'METHOD' },
  ip: { type: 'string', value: 'ADDR' },
  user: { type: 'string', value: 'ID' },
  email: { type: 'string', value: 'EMAIL' },
  groups: { type: 'string', value: 'G1,G2' },
  roles: { type: 'string', value: 'R1,R2' },
  amr: { type: 'string', value: 'M1,M2' },
  claim: { type: 'string', multiple: true, value: 'NAME=VALUE' },
  json: { type: 'boolean' },
  session: { type: 'string', value: 'ID' },
  all: { type: 'boolean' },
  reporter: { type: 'string', value: 'FORMAT' },
  coverage: { type: 'boolean' },
  'require-coverage': { type: 'boolean' },
  decisions: { type: 'string', multiple: true, value: 'FILE' },
  since: { type: 'string', value: 'AGE' },
  'allow-changes': { type: 'boolean' },
} as const satisfies Record<string, Flag> & ParseArgsConfig['options']

export type FlagName = keyof typeof FLAGS

export interface Command {
  /** The synopsis lines after `gatehouse `. */
  usage: readonly string[]
  /** What it does, in a line or two. */
  does: string
  /** Each flag the command takes, with what it means for this command. `--help` is implied. */
  flags: Partial<Record<FlagName, string>>
}

const CONFIG_FLAG = `the configuration file (default: $${CONFIG_FILE_ENV}; without either, the environment alone)`

export const COMMANDS: Record<string, Command> = {
  serve: {
    usage: ['serve [--config FILE]'],
    does: 'start the gateway; SIGTERM or SIGINT stop it after the requests in flight',
    flags: { config: CONFIG_FLAG },
  },
  check: {
    usage: ['check [--config FILE] [--policies PATH [--upstream URL]]'],
    does: 'validate the configuration, the signing key and the policies (and run policy.tests when set), print every problem, exit 0 when valid and 1 when not',
    flags: {
      config: CONFIG_FLAG,
      policies: 'a policy file or folder: checked alone when there is no configuration, else instead of the configuration\'s policies',
      upstream: 'policies checked alone: the `default` upstream (else $GATEHOUSE_UPSTREAM_URL)',
    },
  },
  explain: {
    usage: [
      'explain [--config FILE | --policies PATH [--upstream URL]] [--method METHOD] [--ip ADDR]',
      '        [--user ID] [--email EMAIL] [--groups G1,G2] [--roles R1,R2]',
      '        [--amr M1,M2] [--claim NAME=VALUE]... [--json] URL',
    ],
    does: 'would this request pass, and why; any user flag means someone is signed in; exit 0 when it would pass, 3 when not',
    flags: {
      config: CONFIG_FLAG,
      policies: 'the policy file or folder to ask (instead of the configuration\'s)',
      upstream: 'policies asked alone: the `default` upstream (else $GATEHOUSE_UPSTREAM_URL)',
      method: 'the request method (default GET)',
      ip: 'the client address (default 127.0.0.1)',
      user: 'the user id (sub)',
      email: 'the user\'s email',
      groups: 'the user\'s groups, comma-separated',
      roles: 'the user\'s (or application\'s) app roles, comma-separated',
      amr: 'how the user signed in, comma-separated (mfa, pwd, ...)',
      claim: 'another claim, repeatable; VALUE is read as JSON when it is JSON (scp="Reports.Read", azp=ID)',
      json: 'print one JSON object instead of text',
    },
  },
  test: {
    usage: [
      'test [--config FILE | --policies PATH] [--reporter text|junit|tap]',
      '     [--coverage] [--require-coverage] [FILE|DIR]...',
    ],
    does: 'run the policy\'s test cases (*.test.yaml; default: those of the policy folder); exit 0 only when all pass, 2 for bad test files',
    flags: {
      config: CONFIG_FLAG,
      policies: 'the policy file or folder to test (instead of the configuration\'s)',
      reporter: 'text (default), junit or tap',
      coverage: 'list every route and allow/deny entry that no case reached',
      'require-coverage': 'fail when a route or entry is not reached',
    },
  },
  replay: {
    usage: [
      'replay [--config FILE | --policies PATH] --decisions FILE [FILE]...',
      '       [--since AGE] [--allow-changes] [--json]',
    ],
    does: 'decide recorded decisions (log.decisions) again under the policy and show what would change; exit 1 on any change',
    flags: {
      config: CONFIG_FLAG,
      policies: 'the new policy file or folder',
      decisions: 'audit log files with access.decision records (JSON lines, gzip too); repeatable, or several after one flag',
      since: 'only records newer than this: a duration (24h, 7d) or a date',
      'allow-changes': 'exit 0 even when decisions change',
      json: 'print one JSON object instead of text',
    },
  },
  sessions: {
    usage: ['sessions list [--config FILE] [--user ID] [--json]', 'sessions revoke [--config FILE] (--user ID | --session ID | --all)'],
    does: 'list or end sessions in Redis; every gateway sees a revocation at once',
    flags: {
      config: CONFIG_FLAG,
      user: 'list: only this user\'s sessions; revoke: every session of this user',
      session: 'revoke: this session (its id as list prints it)',
      all: 'revoke: every session',
      json: 'list: print a JSON array',
    },
  },
  keygen: {
    usage: ['keygen --out FILE [--alg ALG] [--if-missing]'],
    does: 'write a new private signing key (PEM, PKCS#8, mode 0600) and print its kid',
    flags: {
      out: 'where to write the key (required)',
      alg: 'ES256 (default), ES384, RS256, PS256 or EdDSA',
      'if-missing': 'keep an existing file and exit 0',
    },
  },
  help: {
    usage: ['help [COMMAND]'],
    does: 'this text, or one command\'s (as gatehouse COMMAND --help)',
    flags: {},
  },
}

function flagLine (name: FlagName, text: string): string {
  const flag: Flag = FLAGS[name]
  const spelled = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${name}${flag.value === undefined ? '' : ` ${flag.value}`}`
  return `  ${spelled.padEnd(24)} ${text}`
}

const flagLines = (command: Command): string[] => (Object.entries(command.flags) as Array<[FlagName, string]>).map(([flag, text]) => flagLine(flag, text))

/** The synopsis; a line that starts with spaces goes on the one before. */
const synopsis = (command: Command): string[] => command.usage.map(line => `${line.startsWith(' ') ? ' '.repeat('gatehouse '.length) : 'gatehouse '}${line}`)

/** One command's help: synopsis, what it does, every flag. */
export function commandHelp (name: string): string {
  const command = COMMANDS[name]
  if (command === undefined) return usage()
  const [first, ...more] = synopsis(command)
  return [`Usage: ${first ?? ''}`, ...more.map(l => `       ${l}`), '', command.does, '', 'Flags:', ...flagLines(command), flagLine('help', 'print this help'), ''].join('\n')
}

/** Every command, and every flag of each. */
export function usage (): string {
  const names = Object.keys(COMMANDS)
  const width = Math.max(...names.map(n => n.length)) + 2
  const lines = ['Usage: gatehouse COMMAND [flags]        (from a checkout: npx gatehouse COMMAND)', '', 'Commands:']
  for (const name of names) lines.push(`  ${name.padEnd(width)} ${COMMANDS[name]?.does ?? ''}`)
  for (const command of Object.values(COMMANDS)) lines.push('', ...synopsis(command), ...flagLines(command))
  lines.push('',
    'Every command takes -h, --help for its own help. The configuration file may also',
    `be named by ${CONFIG_FILE_ENV}; every key can be set from the environment as`,
    'GATEHOUSE_<SECTION>_<KEY> (see docs/configuration.md).', '')
  return lines.join('\n')
}

/** An option as parseArgs' tokens report it: the long name when known, and the spelling given. */
export interface GivenFlag { name: string, rawName: string }

/**
 * What is wrong with a command and its flags, with a suggestion for a typo,
 * or undefined: an unknown command, or a flag the command does not take.
 */
export function usageProblem (command: string, flagsGiven: readonly GivenFlag[]): string | undefined {
  const known = COMMANDS[command]
  if (known === undefined) {
    const hint = nearest(command, Object.keys(COMMANDS))
    return `gatehouse: unknown command "${command}"${hint === undefined ? '' : ` (did you mean "${hint}"?)`}; see gatehouse help`
  }
  const allowed = ['help', ...Object.keys(known.flags)]
  for (const { name, rawName } of flagsGiven) {
    if (allowed.includes(name)) continue
    // A single letter is too short to guess from.
    const hint = rawName.startsWith('--') ? nearest(name, allowed) : undefined
    return `gatehouse ${command}: unknown flag ${rawName}${hint === undefined ? '' : ` (did you mean --${hint}?)`}; see gatehouse ${command} --help`
  }
  return undefined
}
