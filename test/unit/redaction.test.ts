import t from 'tap'
import { createLogger } from '../../src/log/logger.js'
import { redactUrl } from '../../src/log/redaction.js'
import { LogCapture } from '../helpers/log-capture.js'

t.test('sensitive query parameters are redacted from logged URLs', async t => {
  t.equal(redactUrl('/.gatehouse/callback?code=abc&state=def&iss=x'), '/.gatehouse/callback?code=[Redacted]&state=[Redacted]&iss=x')
  t.equal(redactUrl('/p?Code=1&ID_TOKEN_HINT=2&x=3'), '/p?Code=[Redacted]&ID_TOKEN_HINT=[Redacted]&x=3')
  t.equal(redactUrl('/p?c%6Fde=1'), '/p?c%6Fde=[Redacted]', 'encoded names are decoded first')
  t.equal(redactUrl('/.gatehouse/frontchannel-logout?iss=https%3A%2F%2Fidp&sid=08a5019c'), '/.gatehouse/frontchannel-logout?iss=https%3A%2F%2Fidp&sid=[Redacted]', 'an IdP session id ends that session: not logged')
  t.equal(redactUrl('/plain'), '/plain')
})

t.test('the logger redacts secrets wherever they appear in a log object', async t => {
  const out = new LogCapture()
  const log = createLogger({ level: 'info', destination: out })
  log.info({ authorization: 'Bearer abc', cookie: 'gatehouse=s', tokens: { access_token: 'at' }, nested: { refresh_token: 'rt', id_token: 'it', client_secret: 'cs' }, code: 'c1', state: 's1', query: { code: 'c2', state: 's2' }, req: { headers: { authorization: 'x', cookie: 'y' } }, safe: 'visible', err: { code: 'ECONNREFUSED' } }, 'x')
  const line = out.text
  for (const secret of ['Bearer abc', 'gatehouse=s', '"at"', '"rt"', '"it"', '"cs"', '"c1"', '"s1"', '"c2"', '"s2"']) t.notOk(line.includes(secret), secret)
  t.match(line, /"safe":"visible"/)
  t.match(line, /"err":\{"code":"ECONNREFUSED"\}/, 'error codes stay readable')
})
