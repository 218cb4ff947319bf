import t from 'tap'
import { signinPrompt } from '../../src/signin/signin-prompt.js'

t.test('the prompt sent is one the provider announces, login as the fallback', async t => {
  const cases: Array<[Parameters<typeof signinPrompt>[0], unknown, string | undefined, string]> = [
    [undefined, ['none', 'login', 'select_account'], undefined, 'nothing asked: nothing sent'],
    ['select_account', ['none', 'login', 'consent', 'select_account'], 'select_account', 'announced: sent as asked'],
    ['select_account', ['none', 'login', 'consent'], 'login', 'not announced: login instead'],
    ['select_account', undefined, 'login', 'no prompt_values_supported: login'],
    ['select_account', 'select_account', 'login', 'a malformed list counts as none'],
    ['login', ['none', 'login'], 'login', 'login announced'],
    ['select_account', ['none', 'consent'], undefined, 'neither announced: no prompt'],
  ]
  for (const [wanted, announced, expected, why] of cases) t.equal(signinPrompt(wanted, announced), expected, why)
})
