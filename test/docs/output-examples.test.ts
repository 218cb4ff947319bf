import { spawnSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { blockAfter } from '../helpers/markdown.js'

/**
 * Examples of the gatehouse command in the docs are what it prints today.
 * A fenced block right after the line `<!-- output -->` is a transcript:
 * `$ gatehouse …` lines are run from the repository's root (with no
 * GATEHOUSE_* variables), and the lines after each are what it must print
 * (its standard error, then its standard output). A line `…` stands for any
 * number of lines; `  # …` after a command is a comment.
 */
const MARKER = '<!-- output -->'
const files = ['README.md', ...readdirSync('docs').filter(f => f.endsWith('.md')).map(f => `docs/${f}`)]

interface Step { command: string, expected: string[] }

function transcript (body: string): Step[] {
  const steps: Step[] = []
  for (const line of body.split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2).replace(/\s+#.*$/, '').trim(), expected: [] })
    else steps.at(-1)?.expected.push(line)
  }
  for (const step of steps) while (step.expected.at(-1) === '') step.expected.pop()
  return steps
}

/** Whether `actual` is `expected`, where a `…` line in `expected` stands for any run of lines. */
function fits (expected: readonly string[], actual: readonly string[]): boolean {
  if (expected.length === 0) return actual.length === 0
  const [first, ...rest] = expected
  if (first === '…') return actual.some((_, i) => fits(rest, actual.slice(i))) || fits(rest, [])
  return actual[0] === first && fits(rest, actual.slice(1))
}

function run (command: string): string[] {
  const words = command.split(/\s+/)
  const start = words[0] === 'npx' ? 1 : 0
  if (words[start] !== 'gatehouse') throw new Error(`not a gatehouse command: ${command}`)
  const result = spawnSync(process.execPath, ['dist/cli.js', ...words.slice(start + 1)], { env: { PATH: process.env.PATH ?? '' }, encoding: 'utf8' })
  return `${result.stderr}${result.stdout}`.replace(/\n$/, '').split('\n')
}

let examples = 0
for (const file of files) {
  const text = readFileSync(file, 'utf8')
  let rest = text
  let offset = 0
  for (;;) {
    const block = blockAfter(rest, MARKER)
    if (block === undefined) break
    const line = offset + block.line
    for (const step of transcript(block.body)) {
      examples++
      t.test(`${file}:${line}: $ ${step.command}`, async t => {
        const actual = run(step.command)
        t.ok(fits(step.expected, actual), 'prints what the docs show', { expected: step.expected.join('\n'), actual: actual.join('\n') })
      })
    }
    // On after the marker line: the next block is searched for below it.
    rest = rest.split('\n').slice(block.line).join('\n')
    offset += block.line
  }
}

t.test('the docs have examples to check', async t => {
  t.ok(examples >= 5, `${examples} examples`)
})
