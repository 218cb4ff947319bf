import t from 'tap'
import { rewritePath } from '../../src/proxy/rewrite-path.js'

t.test('the literal prefix is replaced segment by segment', async t => {
  const rows: Array<[string, string, string, string]> = [
    // path, from, to, forwarded
    ['/api/users', '/api', '/v2', '/v2/users'],
    ['/api/users/', '/api', '/v2', '/v2/users/'],
    ['/api', '/api', '/v2', '/v2'],
    ['/api/', '/api', '/v2', '/v2/'],
    ['/api/a/b', '/api', '/', '/a/b'],
    ['/api', '/api', '/', '/'],
    ['/a/b/c', '/a/b', '/x/y', '/x/y/c'],
    ['/x', '/', '/v2', '/v2/x'],
    ['/', '/', '/v2', '/v2'],
    ['/api;p-internal/x', '/api', '/v2', '/v2/x'],
    ['/a;x/b/c', '/a/b', '/api', '/api/c'],
    ['/api/x;v=1', '/api', '/v2', '/v2/x;v=1'],
    ['/api/;x/y', '/api', '/v2', '/v2/;x/y'],
  ]
  for (const [path, from, to, expected] of rows) t.equal(rewritePath(path, from, to), expected, `${path} (${from} -> ${to})`)
})
