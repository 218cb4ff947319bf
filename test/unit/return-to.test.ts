import t from 'tap'
import { safeReturnPath } from '../../src/signin/return-to.js'

const PUBLIC = 'https://app.example.com'

t.test('same-origin paths are kept with their query', async t => {
  const kept: Array<[string, string]> = [
    ['/', '/'],
    ['/reports/q3?view=full', '/reports/q3?view=full'],
    ['/a/b/../c', '/a/c'],
    ['/caf%C3%A9', '/caf%C3%A9'],
    ['/x#frag', '/x'],
  ]
  for (const [input, expected] of kept) t.equal(safeReturnPath(input, PUBLIC), expected, input)
})

t.test('anything that could leave the origin falls back to /', async t => {
  const refused = [
    '//evil.example', '//evil.example/path', '/\\evil.example', '\\\\evil.example', '\\/evil.example',
    'https://evil.example/', 'https:evil.example', 'http:/evil.example', 'javascript:alert(1)', 'data:text/html,x',
    '/%2F%2Fevil.example', '/%2f/evil.example', '/%5Cevil.example', '/%5C%5Cevil.example',
    '//user@evil.example', '/\t/evil.example', '/\n/evil.example', '/%09/evil.example', '/%0d%0a/evil.example',
    'evil.example', '', ' /x', '/%', '/%E0%A4%A', `/${'a'.repeat(5000)}`,
  ]
  for (const input of refused) t.equal(safeReturnPath(input, PUBLIC), '/', JSON.stringify(input))
  t.equal(safeReturnPath(undefined, PUBLIC), '/')
  t.equal(safeReturnPath(['/a', '/b'], PUBLIC), '/', 'repeated parameter')
  t.equal(safeReturnPath('//evil', PUBLIC, '/home'), '/home', 'custom fallback')
})
