/**
 * JSON Schema of policy test files (`*.test.yaml`), published as
 * policies/test-schema.json next to the policy schema, for editors.
 */
const stringList = { type: 'array', items: { type: 'string', minLength: 1 } } as const

/** What a case may expect, written alone or as `decision` in a map. */
export const EXPECTED_DECISIONS = ['allow', 'deny', 'signin', 'step_up', 'not_found', 'bad_request', 'method_not_allowed'] as const

export const TEST_SCHEMA = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'gatehouse-policy-tests',
  title: 'Gatehouse policy tests',
  type: 'object',
  additionalProperties: false,
  required: ['cases'],
  properties: {
    cases: {
      type: 'array',
      minItems: 1,
      description: 'Requests and the decision the policy must make for each',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'request', 'expect'],
        properties: {
          name: { type: 'string', minLength: 1, description: 'What the case states, in words' },
          request: {
            type: 'object',
            additionalProperties: false,
            required: ['url'],
            description: 'The request as a client sends it',
            properties: {
              method: { type: 'string', minLength: 1, description: 'HTTP method (default GET)' },
              url: { type: 'string', pattern: '^(/|https?://)', description: 'A path as sent on the request line (not decoded, not cleaned), or an absolute URL for routes with match.host' },
              ip: { type: 'string', minLength: 1, description: 'The client address the gateway resolves (default 127.0.0.1)' },
              headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Request headers that change the decision: host, upgrade (WebSocket), origin (of a WebSocket handshake with the session)' },
            },
          },
          identity: {
            type: 'object',
            additionalProperties: false,
            required: ['user'],
            description: 'Who is signed in; absent for an anonymous request',
            properties: {
              user: { type: 'string', minLength: 1, description: 'Stable user id (sub)' },
              email: { type: 'string' },
              groups: stringList,
              roles: stringList,
              amr: { ...stringList, description: 'Authentication methods (mfa counts for mfa: true)' },
              acr: { type: 'string' },
              scopes: { ...stringList, description: 'Delegated scopes of a bearer token' },
              client_id: { type: 'string', description: 'The client a bearer token was issued to' },
              kind: { enum: ['application'], description: 'application: an app-only bearer token' },
              tenant: { type: 'string' },
              claims: { type: 'object', description: 'Further ID token claims, for claims conditions' },
              credentials: { enum: ['session', 'bearer'], description: 'How the identity is presented (default session): a route reads only the credentials it takes' },
            },
          },
          certificate: {
            type: 'object',
            additionalProperties: false,
            required: ['subject'],
            description: 'The verified client certificate the request comes with (tls.client_ca_file), for client_certificate conditions; absent: none',
            properties: {
              subject: { type: 'string', minLength: 1, description: 'Subject distinguished name, e.g. "O=Example, CN=batch"' },
              issuer: { type: 'string', minLength: 1, description: 'Issuer distinguished name (default: empty)' },
              san_dns: stringList,
              san_uri: stringList,
              san_email: stringList,
            },
          },
          expect: {
            description: `${EXPECTED_DECISIONS.join(', ')}; or a map with decision and optionally route, reason, upstream, rule`,
            oneOf: [
              { enum: [...EXPECTED_DECISIONS] },
              {
                type: 'object',
                additionalProperties: false,
                required: ['decision'],
                properties: {
                  decision: { enum: [...EXPECTED_DECISIONS] },
                  route: { type: 'string', minLength: 1, description: 'Name of the route that decides' },
                  reason: { type: 'string', minLength: 1, description: 'Reason code of the decision (e.g. group_required, denied_by_rule, anyone)' },
                  upstream: { type: 'string', minLength: 1, description: 'Name of the upstream the request goes to' },
                  rule: { type: 'string', minLength: 1, description: 'file:line of the deciding allow or deny entry (the end of it may be left off)' },
                },
              },
            ],
          },
        },
      },
    },
  },
} as const
