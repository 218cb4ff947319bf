/// <reference path="./oidc-provider.d.ts" />
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Interaction, InteractionResults, Provider } from 'oidc-provider'
import { autoGrant } from './auto-grant.js'
import type { ConsentLedger } from './downstream-grants.js'
import { userFor, type DevUser } from './dev-users.js'
import { errorPage, sendPage } from './idp-page.js'
import { accountChoicePage, loginPage } from './interaction-pages.js'
import { mfaRequested } from './mfa-request.js'

const MAX_FORM_BYTES = 64 * 1024

/** The path of the interaction pages: /interaction/UID[/ACTION]. */
export const INTERACTION_PATH = /^\/interaction\/([^/]+)(?:\/([^/]+))?\/?$/

export type InteractionRoute = (req: IncomingMessage, res: ServerResponse, uid: string, action: string | undefined) => Promise<void>

/**
 * The IdP's own pages during a sign-in: the login form, the account choice
 * (prompt=select_account) and automatic consent.
 */
export function interactionRoute (provider: Provider, users: readonly DevUser[], knownScopes: ReadonlySet<string>, consents?: ConsentLedger): InteractionRoute {
  const finish = async (req: IncomingMessage, res: ServerResponse, result: InteractionResults, merge = true): Promise<void> => {
    await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: merge })
  }
  /** Log in and consent in one go, so the browser goes straight back to the client (also satisfies prompt=consent and select_account). */
  const signIn = async (req: IncomingMessage, res: ServerResponse, interaction: Interaction, user: DevUser, code?: string): Promise<void> => {
    const grantId = await autoGrant(provider, knownScopes, interaction, user.id, consents)
    // A second factor when the request asks for MFA and the user gives their one-time code.
    const mfa = mfaRequested(interaction.params)
    const stepped = mfa !== undefined && user.stepUpCode !== undefined && code === user.stepUpCode
    const amr = user.amr ?? ['pwd']
    await finish(req, res, {
      select_account: {},
      login: { accountId: user.id, amr: stepped && !amr.includes('mfa') ? [...amr, 'mfa'] : amr, ...(stepped && mfa.acr !== undefined ? { acr: mfa.acr } : {}), remember: true },
      consent: { grantId },
    })
  }
  const signedIn = (interaction: Interaction): DevUser | undefined => users.find(u => u.id === interaction.session?.accountId)

  return async (req, res, uid, action) => {
    let interaction: Interaction
    try {
      interaction = await provider.interactionDetails(req, res)
    } catch (err) {
      sendPage(res, 400, errorPage('Sign-in request expired', (err as Error).message))
      return
    }
    if (interaction.uid !== uid) {
      sendPage(res, 400, errorPage('Sign-in request mismatch'))
      return
    }
    const current = signedIn(interaction)

    if (req.method === 'GET' && action === undefined) {
      const prompt = interaction.prompt.name
      if (prompt === 'select_account' && current !== undefined) {
        sendPage(res, 200, accountChoicePage(interaction, current))
      } else if (prompt === 'login' || prompt === 'select_account') {
        sendPage(res, 200, loginPage(interaction, { code: mfaRequested(interaction.params) !== undefined }))
      } else if (prompt === 'consent' && current !== undefined) {
        // Automatic consent: no page, straight back to the authorization endpoint.
        await finish(req, res, { consent: { grantId: await autoGrant(provider, knownScopes, interaction, current.id, consents) } })
      } else {
        sendPage(res, 400, errorPage(`Unsupported prompt ${prompt}`))
      }
      return
    }

    if (req.method === 'POST' && action === 'select') {
      const form = await readForm(req)
      if (form.get('account') === 'current' && current !== undefined) await signIn(req, res, interaction, current)
      else sendPage(res, 200, loginPage(interaction))
      return
    }

    if (req.method === 'POST' && action === 'login') {
      const form = await readForm(req)
      if (form.has('cancel')) {
        await finish(req, res, { error: 'access_denied', error_description: 'End-User cancelled the sign-in' }, false)
        return
      }
      const login = (form.get('login') ?? '').trim()
      const user = userFor(users, login, form.get('password') ?? '')
      if (user === undefined) sendPage(res, 200, loginPage(interaction, { login, error: 'Invalid username or password.', code: mfaRequested(interaction.params) !== undefined }))
      else await signIn(req, res, interaction, user, form.get('code') ?? undefined)
      return
    }

    res.statusCode = 405
    res.setHeader('Allow', 'GET, POST')
    res.end()
  }
}

async function readForm (req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buf = chunk as Buffer
    size += buf.length
    if (size > MAX_FORM_BYTES) throw new Error('request body too large')
    chunks.push(buf)
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'))
}
