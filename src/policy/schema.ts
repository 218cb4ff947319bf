import { CRITERIA } from '../authorize/criteria/index.js'
import { DURATION_PATTERN } from '../config/duration.js'

/**
 * JSON Schema of policy files. The same object validates files at load time
 * and is written to policies/schema.json (`npm run schema`) for editors;
 * a test keeps the two identical.
 */
const duration = { type: 'string', pattern: DURATION_PATTERN, description: 'A whole number and a unit: 500ms, 30s, 5m, 12h' }
const headerName = { type: 'string', pattern: '^[A-Za-z0-9-]+$' }

const conditionSet = {
  type: 'object',
  description: 'Conditions that must all hold. In `allow`, one passing entry lets the request through; in `deny`, one matching entry refuses it.',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    // Each condition's key and schema come from its criterion.
    ...Object.fromEntries(CRITERIA.map(c => [c.key, c.schema])),
    anonymous: { const: true, description: 'No sign-in needed for this entry; only its network and request conditions apply' },
  },
}

export const POLICY_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'urn:gatehouse:policy',
  title: 'Gatehouse policy file',
  type: 'object',
  additionalProperties: false,
  properties: {
    upstreams: {
      type: 'object',
      description: 'Named upstreams that routes forward to',
      propertyNames: { pattern: '^[A-Za-z0-9_.-]+$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://', description: 'http(s) URL of the upstream' },
          timeout: { ...duration, description: 'Time to wait for the upstream to answer; then 504' },
        },
      },
    },
    routes: {
      type: 'array',
      description: 'Tried in order; the first whose match fits the request decides',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'match', 'allow'],
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$', description: 'Unique; named in logs, denial pages and explain' },
          match: {
            type: 'object',
            additionalProperties: false,
            required: ['path'],
            properties: {
              host: {
                description: 'Exact host or *.example.com (any subdomain); several as a list',
                oneOf: [{ type: 'string', minLength: 1 }, { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 }],
              },
              path: { type: 'string', pattern: '^/', description: '/exact, /x/* (one segment), /x/** (any depth, and /x itself)' },
              methods: { type: 'array', minItems: 1, items: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] } },
            },
          },
          upstream: { type: 'string', description: 'Name of an upstream; `default` is the gateway config\'s upstream.url' },
          allow: {
            description: '`anyone` (no sign-in), `authenticated` (any signed-in user), or a list of alternatives',
            oneOf: [{ enum: ['anyone', 'authenticated'] }, { type: 'array', minItems: 1, items: conditionSet }],
          },
          deny: { type: 'array', minItems: 1, items: conditionSet, description: 'Refuse when any entry matches; wins over allow' },
          headers: {
            type: 'object',
            description: 'Extra names for the identity headers, for apps that expect e.g. Remote-User',
            additionalProperties: false,
            properties: { user: headerName, email: headerName, name: headerName, groups: headerName, roles: headerName },
          },
          assertion: {
            type: 'object',
            additionalProperties: false,
            properties: { audience: { type: 'string', minLength: 1, description: 'aud of X-Gatehouse-Assertion (default: the upstream URL)' } },
          },
          rewrite_prefix: { type: 'string', pattern: '^/', description: 'Replaces the literal prefix of a /x/** path before forwarding' },
          timeout: { ...duration, description: 'Overrides the upstream\'s timeout for this route' },
          websockets: { type: 'boolean', description: 'Allow WebSocket upgrades (default true)' },
          reauth_after: { ...duration, description: 'A sign-in (auth_time) older than this must be made again: a browser is sent to the IdP with max_age, the session kept' },
          websocket_origins: {
            type: 'array',
            minItems: 1,
            items: { type: 'string', minLength: 1 },
            description: 'Origins (https://app.example.com) besides public_url\'s whose pages may open WebSockets with the session cookie',
          },
          step_up_from_upstream: { type: 'boolean', description: 'A 401 from the application asking for a stronger sign-in (insufficient_claims, insufficient_user_authentication) takes a signed-in browser through a step-up (default false)' },
          pass_access_token: { type: 'boolean', description: 'Send the user\'s access token as X-Gatehouse-Access-Token (default false)' },
          downstream_token: {
            type: 'object',
            additionalProperties: false,
            required: ['scopes', 'header'],
            description: 'Get an access token for another API as the caller (a session\'s refresh token, or a bearer caller\'s token exchanged) and send it upstream in `header`',
            properties: {
              scopes: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }, description: 'Scopes of the other API, e.g. https://graph.microsoft.com/User.Read' },
              resource: { type: 'string', pattern: '^[A-Za-z][A-Za-z0-9+.-]*:[^#\\s]+$', description: 'RFC 8707 resource indicator of the other API (generic OpenID Providers; not with Entra ID, whose scopes name the API)' },
              header: { ...headerName, description: 'Request header the upstream receives the token in, e.g. X-Gatehouse-Graph-Token' },
            },
          },
          credentials: {
            type: 'array',
            minItems: 1,
            uniqueItems: true,
            items: { enum: ['session', 'bearer'] },
            description: 'How callers identify themselves: session (sign-in cookie, the default) and/or bearer (Authorization: Bearer access token, needs bearer.audiences in the gateway config)',
          },
        },
      },
    },
  },
} as const
