import { spawnSync } from 'node:child_process'
import t from 'tap'
import { COMMANDS, commandHelp, FLAGS, type FlagName, usage, usageProblem } from '../src/cli-usage.js'

/** The built CLI, as operators run it (npm test builds first). */
function gatehouse (args: string[], env: Record<string, string> = {}): { status: number | null, stdout: string, stderr: string } {
  const result = spawnSync(process.execPath, ['dist/cli.js', ...args], { encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

const spelled = (flag: FlagName): string => {
  const { value } = FLAGS[flag] as { value?: string }
  return `--${flag}${value === undefined ? '' : ` ${value}`}`
}

t.test('the help lists every command and every flag of each', async t => {
  const help = usage()
  for (const [name, command] of Object.entries(COMMANDS)) {
    t.ok(help.includes(`  ${name.padEnd(10)} ${command.does}\n`), `${name} is listed with what it does`)
    for (const line of command.usage) t.ok(help.includes(line.trim()), `the synopsis of ${name}: ${line.trim()}`)
    const own = commandHelp(name)
    t.ok(own.startsWith(`Usage: gatehouse ${command.usage[0] ?? ''}\n`), `${name} --help starts with its synopsis`)
    for (const [flag, text] of Object.entries(command.flags) as Array<[FlagName, string]>) {
      t.ok(own.includes(`${spelled(flag).padEnd(20)} ${text}\n`), `${name} --help: ${spelled(flag)} and what it means`)
      t.ok(help.includes(`${spelled(flag).padEnd(20)} ${text}\n`), `help: ${name} ${spelled(flag)}`)
    }
    t.ok(own.includes('-h, --help'))
  }
  for (const flag of Object.keys(FLAGS) as FlagName[]) t.ok(help.includes(spelled(flag)), `${spelled(flag)} is in the help`)
})

t.test('the command prints that help', async t => {
  const help = gatehouse(['help'])
  t.equal(help.status, 0)
  t.equal(help.stdout, usage())
  const check = gatehouse(['check', '--help'])
  t.equal(check.status, 0)
  t.equal(check.stdout, commandHelp('check'))
  const none = gatehouse([])
  t.equal(none.status, 2, 'without a command: the help on stderr, exit 2')
  t.equal(none.stderr, usage())
})

t.test('an unknown flag or command is named, with the nearest known one', async t => {
  const cases: Array<[string, string[], string]> = [
    ['check', ['polcies'], 'gatehouse check: unknown flag --polcies (did you mean --policies?); see gatehouse check --help'],
    ['explain', ['grups'], 'gatehouse explain: unknown flag --grups (did you mean --groups?); see gatehouse explain --help'],
    ['sessions', ['config', 'sesion'], 'gatehouse sessions: unknown flag --sesion (did you mean --session?); see gatehouse sessions --help'],
    ['keygen', ['out', 'if-mising'], 'gatehouse keygen: unknown flag --if-mising (did you mean --if-missing?); see gatehouse keygen --help'],
    ['keygen', ['config'], 'gatehouse keygen: unknown flag --config; see gatehouse keygen --help'],
    ['chek', ['config'], 'gatehouse: unknown command "chek" (did you mean "check"?); see gatehouse help'],
    ['frobnicate', [], 'gatehouse: unknown command "frobnicate"; see gatehouse help'],
  ]
  for (const [command, flags, message] of cases) {
    t.equal(usageProblem(command, flags.map(name => ({ name, rawName: `--${name}` }))), message, `${command} ${flags.join(' ')}`)
  }
  t.equal(usageProblem('explain', [{ name: 'z', rawName: '-z' }]), 'gatehouse explain: unknown flag -z; see gatehouse explain --help', 'a single letter is not guessed from')
  t.equal(usageProblem('check', [{ name: 'policies', rawName: '-p' }, { name: 'help', rawName: '--help' }]), undefined)
  const result = gatehouse(['check', '--polcies', 'x.yaml'])
  t.equal(result.status, 2)
  t.equal(result.stderr, 'gatehouse check: unknown flag --polcies (did you mean --policies?); see gatehouse check --help\n')
})

t.test('an unknown GATEHOUSE_ name is named, with the nearest known one', async t => {
  const result = gatehouse(['check'], { GATEHOUSE_UPSTREAM_TIMOUT: '5s' })
  t.equal(result.status, 1)
  t.match(result.stderr, 'env GATEHOUSE_UPSTREAM_TIMOUT: error: unknown setting (no config key has this name) (did you mean GATEHOUSE_UPSTREAM_TIMEOUT?)')
})
