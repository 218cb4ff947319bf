import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import t from 'tap'
import { anchors, links } from '../helpers/markdown.js'

/**
 * Every relative link of README.md and docs/*.md leads to a file or folder of
 * the repository, and every #anchor to a heading of the file it names.
 */
const files = ['README.md', ...readdirSync('docs').filter(f => f.endsWith('.md')).map(f => join('docs', f))]

t.test('every relative link and anchor in the README and docs resolves', async t => {
  t.ok(files.length > 10)
  for (const file of files) {
    for (const { line, target } of links(readFileSync(file, 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue
      const [path = '', anchor] = target.split('#')
      const linked = path === '' ? file : normalize(join(dirname(file), decodeURIComponent(path)))
      const where = `${file}:${line}: ${target}`
      if (!t.ok(existsSync(linked), `${where}: ${linked} exists`) || anchor === undefined) continue
      if (!statSync(linked).isFile() || !linked.endsWith('.md')) {
        t.fail(`${where}: an anchor into something that is not a Markdown file`)
        continue
      }
      t.ok(anchors(readFileSync(linked, 'utf8')).has(anchor), `${where}: ${linked} has a heading #${anchor}`)
    }
  }
})
