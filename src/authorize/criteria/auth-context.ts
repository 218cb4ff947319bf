import { stringList } from '../../identify/claim-values.js'
import { criterion, list } from './criterion.js'

/**
 * `auth_context: [c1]`: every one of these Microsoft Entra conditional-access
 * authentication contexts is in the token's `acrs` claim. A browser without
 * them is asked to step up (the `claims` request parameter with acrs essential).
 */
export const authContext = criterion({
  key: 'auth_context',
  field: 'authContexts',
  schema: { type: 'array', items: { type: 'string', pattern: '^c([1-9]|[1-9][0-9])$' }, minItems: 1, description: 'Entra conditional-access authentication contexts (c1 to c99) the sign-in satisfied (acrs claim), all of them' },
  reason: 'auth_context_required',
  needsUser: true,
  compile: (raw: string[]): readonly string[] => [...new Set(raw)],
  test: (contexts, { identity }) => {
    const acrs = stringList(identity?.claims.acrs)
    return contexts.every(c => acrs.includes(c))
  },
  describe: contexts => `requires a sign-in that satisfied conditional access ${list([...contexts])}`,
  stepUp: contexts => ({ authContexts: contexts }),
})
