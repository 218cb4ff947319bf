import { criterion, list, STRING_LIST } from './criterion.js'

/** `acr: [values]`: the sign-in's authentication context class (`acr`) is one of these. A browser without it is asked to step up. */
export const acr = criterion({
  key: 'acr',
  field: 'acr',
  schema: { ...STRING_LIST, description: 'The sign-in\'s authentication context class (acr) is one of these; a signed-in user without it is asked to sign in again with acr_values' },
  reason: 'acr_required',
  needsUser: true,
  compile: (raw: string[]): readonly string[] => [...new Set(raw)],
  test: (values, { identity }) => identity?.acr !== undefined && values.includes(identity.acr),
  describe: values => `requires a sign-in at authentication level ${list([...values])}`,
  stepUp: values => ({ acr: values }),
})
