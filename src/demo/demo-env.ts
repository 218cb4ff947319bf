import { CONFIG_FILE_ENV } from '../config/env.js'
import { ENV_KEYS } from '../config/load.js'

/**
 * The settings the demo makes itself, by config path (a section, or one key),
 * and why: the demo is its own IdP, app and address, so a value from the
 * environment for one of these would break it rather than change it.
 */
const DEMO_OWNS: ReadonlyArray<[path: string, why: string]> = [
  ['listen', 'the demo listens on 127.0.0.1 at DEMO_PORT'],
  ['public_url', 'the demo is reached at http://localhost:DEMO_PORT'],
  ['oidc', 'the demo signs people in at its own development OpenID Provider'],
  ['entra', 'the demo signs people in at its own development OpenID Provider'],
  ['bearer', 'bearer tokens would come from another issuer than the demo\'s own OpenID Provider'],
  ['ssf', 'Shared Signals transmitters would speak of another OpenID Provider than the demo\'s own'],
  ['session.secret', 'the demo makes a new session secret at every start'],
  ['session.secret_file', 'the demo makes a new session secret at every start'],
  ['session.previous_secrets', 'the demo makes a new session secret at every start'],
  ['signing.key_file', 'the demo makes a throwaway signing key at every start'],
  ['upstream.url', 'the demo forwards to its own sample app'],
]

export interface DemoEnv {
  /** The environment the demo's config is read from: the demo's own settings over the ones passed on. */
  env: Record<string, string>
  /** GATEHOUSE_* names the demo passes over, each with why. */
  ignored: Array<{ name: string, why: string }>
  /** GATEHOUSE_* names taken from the environment (unknown ones too, so that the config reports them as `serve` does). */
  taken: string[]
}

function ownedBecause (name: string): string | undefined {
  if (name === CONFIG_FILE_ENV) return 'the demo reads no config file; give its settings as GATEHOUSE_* variables'
  const key = ENV_KEYS.find(k => k.name === name)
  if (key === undefined) return undefined
  const path = key.path.join('.')
  return DEMO_OWNS.find(([owned]) => path === owned || path.startsWith(`${owned}.`))?.[1]
}

/**
 * Splits the GATEHOUSE_* variables of `from` into those the demo honours and
 * those it ignores: the demo's `defaults` give way to the first, its `own`
 * settings (the ones DEMO_OWNS names) do not.
 */
export function demoEnv (from: Readonly<Record<string, string | undefined>>, settings: { own: Readonly<Record<string, string>>, defaults: Readonly<Record<string, string>> }): DemoEnv {
  const env: Record<string, string> = {}
  const ignored: DemoEnv['ignored'] = []
  const taken: string[] = []
  for (const [name, value] of Object.entries(from)) {
    if (!name.startsWith('GATEHOUSE_') || value === undefined) continue
    const why = ownedBecause(name)
    if (why !== undefined) {
      ignored.push({ name, why })
    } else {
      env[name] = value
      taken.push(name)
    }
  }
  return { env: { ...settings.defaults, ...env, ...settings.own }, ignored: ignored.sort((a, b) => a.name.localeCompare(b.name)), taken: taken.sort() }
}
