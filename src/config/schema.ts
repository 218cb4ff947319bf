import { DURATION_PATTERN } from './duration.js'
import { SIZE_PATTERN } from './size.js'

/**
 * JSON Schema of the gateway configuration file. Every leaf can also be set
 * from the environment as GATEHOUSE_<PATH> (see env.ts); keys marked
 * `x-secret` can instead be read from a file with `<key>_file` / `<NAME>_FILE`.
 *
 * The defaults written here are the only ones: the loader validates with
 * ajv's useDefaults, and every section that always exists defaults to `{}`
 * so that its keys' defaults are filled in too.
 */
const duration = { type: 'string', pattern: DURATION_PATTERN } as const
export const GUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
const size = { type: 'string', pattern: SIZE_PATTERN } as const
/** log.decisions: denied, all, or sample:<fraction between 0 and 1>. */
export const DECISIONS_PATTERN = '^(denied|all|sample:(0(\\.[0-9]+)?|1(\\.0+)?))$'

export const CONFIG_SCHEMA = {
  $id: 'gatehouse-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    listen: { type: 'string', description: 'host:port to listen on', default: '0.0.0.0:8080' },
    workers: { oneOf: [{ const: 'auto' }, { type: 'integer', minimum: 1, maximum: 256 }], default: 1, description: 'auto (one per CPU the process may use) or a whole number of worker processes from 1 to 256' },
    public_url: { type: 'string', description: 'The URL people and the IdP use to reach the gateway' },
    policies: { type: 'string', description: 'Policy file or folder' },
    trusted_proxies: { type: 'array', items: { type: 'string' }, description: 'CIDRs of proxies in front of the gateway whose X-Forwarded-For is believed' },
    tls: {
      type: 'object',
      additionalProperties: false,
      description: 'HTTPS on the public listener: HTTP/2 and HTTP/1.1, TLS 1.2 and 1.3, certificates reloaded when their files change',
      properties: {
        cert_file: { type: 'string', minLength: 1, description: 'PEM certificate chain: the server certificate first, then the intermediates' },
        key_file: { type: 'string', minLength: 1, description: 'PEM private key of the certificate' },
        client_ca_file: { type: 'string', minLength: 1, description: 'PEM CA certificates that client certificates are verified against' },
        client_certificates: { enum: ['optional', 'required'], default: 'optional', description: 'With client_ca_file: optional (asked for, checked when sent) or required (a connection without a verified one is refused)' },
        redirect_listen: { type: 'string', minLength: 1, default: 'off', description: 'host:port of a plain-HTTP listener that only redirects to public_url, or off' },
        strict_transport_security: { type: 'string', pattern: '^max-age=[0-9]+(; ?includeSubDomains)?(; ?preload)?$', description: 'Strict-Transport-Security header on every answer, e.g. max-age=31536000; includeSubDomains' },
      },
    },
    oidc: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        provider: { enum: ['generic', 'entra'], default: 'generic', description: 'entra: Microsoft Entra ID, configured in the entra section' },
        issuer: { type: 'string' },
        client_id: { type: 'string', minLength: 1 },
        client_secret: { type: 'string', minLength: 1, 'x-secret': true },
        client_secret_file: { type: 'string' },
        token_auth_method: { enum: ['client_secret_basic', 'client_secret_post'], default: 'client_secret_basic' },
        scopes: { type: 'array', items: { type: 'string', pattern: '^[\\x21-\\x7e]+$' }, default: ['openid', 'profile', 'email', 'offline_access'] },
        allow_insecure_http: { type: 'boolean', default: false, description: 'Allow an http:// issuer (local development only)' },
        discovery_timeout: { ...duration, default: '5s' },
        groups_claim: { type: 'string', default: 'groups' },
        roles_claim: { type: 'string', default: 'roles' },
        mfa_acr_values: { type: 'array', items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }, default: ['http://schemas.openid.net/pape/policies/2007/06/multi-factor'], description: 'acr_values that ask this provider for a multi-factor sign-in (step-up for mfa conditions); empty: a fresh sign-in (prompt=login) is asked for' },
        reauth_prompt_login: { type: 'boolean', default: false, description: 'Send prompt=login with max_age when a route\'s reauth_after asks for a new sign-in (for providers that ignore max_age; always on for Entra)' },
      },
    },
    entra: {
      type: 'object',
      additionalProperties: false,
      description: 'Microsoft Entra ID: set oidc.provider to entra; the issuer is derived from the tenant',
      properties: {
        tenant: { type: 'string', pattern: '^[A-Za-z0-9.-]+$', description: 'Directory (tenant) id, a verified domain, or organizations / common for a multi-tenant app' },
        allowed_tenants: { type: 'array', items: { type: 'string', pattern: GUID_PATTERN }, description: 'Tenant ids whose users and applications are accepted; required for organizations / common' },
        authority_host: { type: 'string', default: 'https://login.microsoftonline.com', description: 'Sign-in host: the global cloud, a national cloud, or a local stand-in' },
        graph_url: { type: 'string', default: 'https://graph.microsoft.com/v1.0', description: 'Microsoft Graph base URL, for group overage' },
        graph_timeout: { ...duration, default: '5s' },
        groups_cache_ttl: { ...duration, default: '1h', description: 'How long group memberships fetched from Graph are reused for new sign-ins of the same user' },
        group_names: { type: 'object', additionalProperties: { type: 'string', minLength: 1, pattern: '^[^,]+$' }, propertyNames: { pattern: GUID_PATTERN }, description: 'Group object id -> name used in policies and headers' },
        mfa_auth_contexts: { type: 'array', items: { type: 'string', pattern: '^c[0-9]{1,2}$' }, description: 'Conditional-access authentication contexts (acrs) that require MFA: they satisfy mfa conditions' },
        only_named_groups: { type: 'boolean', default: false, description: 'Keep only the groups listed in group_names (for example the groups assigned to the app)' },
        directory_watch: {
          type: 'object',
          default: {},
          additionalProperties: false,
          description: 'Poll Microsoft Graph for disabled and deleted users, revoked sign-in sessions and group removals, with the gateway\'s own app credentials',
          properties: {
            enabled: { type: 'boolean', default: false },
            interval: { ...duration, default: '60s', description: 'Time between two polls' },
          },
        },
      },
    },
    bearer: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'Access tokens (Authorization: Bearer) on routes that accept them',
      properties: {
        audiences: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Accepted aud values, e.g. api://gatehouse or the API app\'s client id; bearer tokens are refused while empty' },
        issuers: { type: 'array', items: { type: 'string', minLength: 1 }, description: 'Accepted iss values; {tenantid} stands for the token\'s own tid. Default: the OIDC issuer' },
        jwks_url: { type: 'string', description: 'Where the signing keys are; default: jwks_uri from discovery' },
        clock_tolerance: { ...duration, default: '30s' },
      },
    },
    session: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        secret: { type: 'string', 'x-secret': true },
        secret_file: { type: 'string' },
        previous_secrets: { type: 'array', items: { type: 'string', minLength: 32 }, description: 'Older secrets: still verify cookies and decrypt sessions, never used for new ones' },
        cookie_name: { type: 'string', pattern: '^[A-Za-z0-9_-]+$', default: 'gatehouse' },
        idle_timeout: { ...duration, default: '1h', description: 'A session unused this long ends (sliding)' },
        max_lifetime: { ...duration, default: '12h', description: 'No session lives longer than this after sign-in' },
        refresh_skew: { ...duration, default: '60s', description: 'Refresh tokens this long before the access token expires' },
        cache_ttl: { ...duration, default: '10s', description: 'How long a gateway may serve a session from memory without asking Redis' },
      },
    },
    redis: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        url: { type: 'string', description: 'redis://, rediss://, redis+sentinel://h1:26379,h2:26379/master, redis+cluster://h1:7000,h2:7001; unset means in-memory sessions' },
        key_prefix: { type: 'string', default: 'gatehouse:' },
        command_timeout: { ...duration, default: '500ms' },
      },
    },
    signing: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        key_file: { type: 'string', description: 'PEM (PKCS#8) or JWK private key' },
        algorithm: { enum: ['ES256', 'ES384', 'RS256', 'PS256', 'EdDSA'], default: 'ES256' },
        assertion_ttl: { ...duration, default: '60s' },
      },
    },
    upstream: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        url: { type: 'string', description: 'Default upstream' },
        timeout: { ...duration, default: '30s', description: 'How long the upstream may take to send its headers, and between two pieces of its body: then 504' },
        connect_timeout: { ...duration, default: '5s', description: 'How long connecting to the upstream may take: then 504' },
        forward_groups: { enum: ['all', 'mentioned'], default: 'all', description: 'mentioned: identity headers and the assertion carry only the groups some policy names (keeps headers small for users in hundreds of groups)' },
      },
    },
    limits: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'What one client may ask of the gateway',
      properties: {
        max_header_size: { ...size, default: '16KiB', description: 'Request line and headers together; larger: 431' },
        max_body_size: { ...size, default: '64KiB', description: 'Request bodies the gateway reads itself (its own endpoints); larger: 413. Proxied bodies are streamed, not limited' },
        headers_timeout: { ...duration, default: '30s', description: 'How long a client may take to send the request line and headers: then 408 and the connection is closed' },
        request_timeout: { ...duration, default: '5m', description: 'How long a client may take to send a whole request, body included: then 408' },
        keep_alive_timeout: { ...duration, default: '75s', description: 'An idle client connection is closed after this long' },
        max_websockets: { type: 'integer', minimum: 1, default: 10000, description: 'WebSockets open at once through this gateway; more upgrades: 503' },
      },
    },
    branding: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'How the gateway\'s own pages look',
      properties: {
        product_name: { type: 'string', minLength: 1, maxLength: 80, default: 'Gatehouse' },
        logo_url: { type: 'string', pattern: '^https://', description: 'https URL of a logo shown on every page' },
        accent_color: { type: 'string', pattern: '^#[0-9A-Fa-f]{6}$', default: '#2457c5' },
        support_contact: { type: 'string', minLength: 1, maxLength: 200, description: 'An email address, an https URL, or words' },
      },
    },
    pages: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        denial_detail: { enum: ['detailed', 'terse'], default: 'detailed', description: 'detailed: the access-denied page names the route and the reason; terse: only that access is denied' },
      },
    },
    shutdown: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        grace_period: { ...duration, default: '25s', description: 'On SIGTERM: stop accepting, let requests in flight finish for at most this long, then exit' },
      },
    },
    admin: {
      type: 'object',
      default: {},
      additionalProperties: false,
      description: 'The admin listener: /metrics, /healthz, /readyz; never on the public listener',
      properties: {
        listen: { type: 'string', minLength: 1, default: '127.0.0.1:9464', description: 'host:port of the admin listener, or off' },
      },
    },
    ssf: {
      type: 'object',
      additionalProperties: false,
      description: 'Shared Signals Framework: security event tokens pushed to /.gatehouse/ssf/events (config file only)',
      properties: {
        transmitters: {
          type: 'array',
          description: 'Who may push events: issuer, jwks_url, audience, bearer_secret (or bearer_secret_file)',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['issuer', 'jwks_url', 'audience'],
            properties: {
              issuer: { type: 'string', minLength: 1 },
              jwks_url: { type: 'string', minLength: 1 },
              audience: { type: 'string', minLength: 1 },
              bearer_secret: { type: 'string', minLength: 1, 'x-secret': true },
              bearer_secret_file: { type: 'string', minLength: 1 },
            },
          },
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      properties: {
        tests: { type: 'string', minLength: 1, description: 'A policy test file or folder of *.test.yaml files: the policy must pass them at start-up and on every reload' },
      },
    },
    log: {
      type: 'object',
      default: {},
      additionalProperties: false,
      properties: {
        level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        audit: { type: 'string', minLength: 1, description: 'Where audit events go: stdout, stderr or a file path (appended to); unset: with the other log lines' },
        decisions: { type: 'string', pattern: DECISIONS_PATTERN, default: 'denied', description: 'Which decisions are written as access.decision audit records (what gatehouse replay reads): denied, all, or sample:<fraction> (every denial and that fraction of the rest)' },
      },
    },
  },
} as const
