// Minimal ambient type declarations for `oidc-provider` v9, which ships no
// TypeScript types (and @types/oidc-provider targets older majors). Only the
// surface used by the dev IdP (src/devidp/) is typed precisely;
// everything else is deliberately loose.
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export type UnknownObject = Record<string, unknown>;

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    redirect_uris?: string[];
    post_logout_redirect_uris?: string[];
    grant_types?: string[];
    response_types?: string[];
    token_endpoint_auth_method?: string;
    id_token_signed_response_alg?: string;
    backchannel_logout_uri?: string;
    backchannel_logout_session_required?: boolean;
    application_type?: 'web' | 'native';
    client_name?: string;
    [key: string]: unknown;
  }

  export interface Client {
    clientId: string;
    clientName?: string;
    redirectUris: string[];
    postLogoutRedirectUris?: string[];
    clientAuthMethod: string;
    backchannelLogoutUri?: string;
    grantTypeAllowed(type: string): boolean;
    [key: string]: unknown;
  }

  export interface ClientStatic {
    find(id: string): Promise<Client | undefined>;
  }

  export interface Session {
    accountId?: string;
    uid: string;
    jti: string;
    amr?: string[];
    acr?: string;
    grantIdFor(clientId: string): string | undefined;
    [key: string]: unknown;
  }

  export interface OIDCContext {
    readonly route: string;
    readonly issuer: string;
    readonly client?: Client;
    readonly session?: Session;
    readonly params?: UnknownObject;
    readonly entities: UnknownObject;
    readonly result?: InteractionResults;
    readonly provider: Provider;
    urlFor(name: string, opt?: UnknownObject): string;
    [key: string]: unknown;
  }

  /** The Koa context as seen by oidc-provider helpers (only what we use). */
  export interface KoaContextWithOIDC {
    oidc: OIDCContext;
    body: unknown;
    type: string;
    status: number;
    host: string;
    method: string;
    path: string;
    req: IncomingMessage;
    res: ServerResponse;
    get(field: string): string;
    set(field: string, value: string): void;
    [key: string]: unknown;
  }

  export interface Account {
    accountId: string;
    claims(
      use: 'id_token' | 'userinfo' | string,
      scope: string,
      claims: UnknownObject,
      rejected: string[],
    ): UnknownObject | Promise<UnknownObject>;
  }

  export type FindAccount = (
    ctx: KoaContextWithOIDC,
    sub: string,
    token?: unknown,
  ) => Promise<Account | undefined> | Account | undefined;

  export interface AdapterPayload {
    jti?: string;
    uid?: string;
    grantId?: string;
    userCode?: string;
    consumed?: number;
    [key: string]: unknown;
  }

  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export type AdapterFactory = (name: string) => Adapter;

  export interface InteractionResults {
    login?: {
      accountId: string;
      acr?: string;
      amr?: string[];
      remember?: boolean;
      ts?: number;
    };
    consent?: {
      grantId?: string;
    };
    error?: string;
    error_description?: string;
    [key: string]: unknown;
  }

  export interface PromptDetail {
    name: 'login' | 'consent' | string;
    reasons: string[];
    details: {
      missingOIDCScope?: string[];
      missingOIDCClaims?: string[];
      missingResourceScopes?: Record<string, string[]>;
      login_hint?: string;
      [key: string]: unknown;
    };
  }

  export interface Interaction {
    readonly uid: string;
    jti: string;
    returnTo: string;
    prompt: PromptDetail;
    params: UnknownObject & { client_id?: string; scope?: string; claims?: string; login_hint?: string };
    session?: { accountId: string; uid?: string; cookie?: string; acr?: string; amr?: string[] };
    grantId?: string;
    lastSubmission?: InteractionResults;
    result?: InteractionResults;
    exp: number;
    save(ttl: number): Promise<string>;
    persist(): Promise<string>;
  }

  export interface Grant {
    jti: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string | string[] | Set<string>): void;
    addOIDCClaims(claims: string[] | Set<string>): void;
    addResourceScope(resource: string, scope: string): void;
    getOIDCScope(): string;
    save(ttl?: number): Promise<string>;
    destroy(): Promise<void>;
  }

  export interface GrantStatic {
    new (properties?: { accountId?: string; clientId?: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  }

  export type TTLFunction = (ctx: KoaContextWithOIDC, token: unknown, client?: Client) => number;

  export interface JWK {
    kty: string;
    kid?: string;
    alg?: string;
    use?: string;
    [key: string]: unknown;
  }

  export interface Configuration {
    adapter?: AdapterFactory | (new (name: string) => Adapter);
    clients?: ClientMetadata[];
    clientDefaults?: Partial<ClientMetadata>;
    clientAuthMethods?: string[];
    clientBasedCORS?: (ctx: KoaContextWithOIDC, origin: string, client: Client) => boolean;
    claims?: Record<string, null | string[] | Record<string, null>>;
    conformIdTokenClaims?: boolean;
    cookies?: {
      names?: { session?: string; interaction?: string; resume?: string };
      long?: UnknownObject;
      short?: UnknownObject;
      keys?: Array<string | Buffer>;
    };
    features?: Record<string, UnknownObject & { enabled?: boolean }>;
    /** Used for outgoing requests; `options` carries oidc-provider's SSRF-guarding `dispatcher`. */
    fetch?: (url: string | URL, options: RequestInit & { dispatcher?: unknown }) => Promise<Response>;
    findAccount?: FindAccount;
    interactions?: {
      url?: (ctx: KoaContextWithOIDC, interaction: Interaction) => string | Promise<string>;
      policy?: unknown;
    };
    jwks?: { keys: JWK[] };
    loadExistingGrant?: (ctx: KoaContextWithOIDC) => Promise<Grant | undefined>;
    pkce?: { required?: (ctx: KoaContextWithOIDC, client: Client) => boolean };
    renderError?: (ctx: KoaContextWithOIDC, out: Record<string, string>, error: Error) => void | Promise<void>;
    responseTypes?: string[];
    rotateRefreshToken?: boolean | ((ctx: KoaContextWithOIDC) => boolean);
    issueRefreshToken?: (ctx: KoaContextWithOIDC, client: Client, code: unknown) => boolean | Promise<boolean>;
    routes?: Record<string, string>;
    scopes?: string[];
    ttl?: Record<string, number | TTLFunction>;
    [key: string]: unknown;
  }

  export class Provider {
    constructor(issuer: string, configuration?: Configuration);
    readonly issuer: string;
    proxy: boolean;
    keys: Array<string | Buffer>;
    readonly Grant: GrantStatic;
    readonly Client: ClientStatic;
    readonly RefreshToken: { find(value: string): Promise<{ accountId: string; clientId: string; scope?: string } | undefined> };
    registerGrantType(
      name: string,
      handler: (ctx: KoaContextWithOIDC) => Promise<void>,
      params?: string[] | Set<string>,
      dupes?: string[] | Set<string>,
    ): void;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    listen(...args: unknown[]): import('node:http').Server;
    use(fn: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void> | void): this;
    urlFor(name: string, opt?: UnknownObject): string;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    interactionResult(
      req: IncomingMessage,
      res: ServerResponse,
      result: InteractionResults,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<string>;
    on(event: string, listener: (...args: any[]) => void): this;
    once(event: string, listener: (...args: any[]) => void): this;
    off(event: string, listener: (...args: any[]) => void): this;
    emit(event: string, ...args: unknown[]): boolean;
  }

  export const errors: Record<string, new (...args: any[]) => Error>;
  export interface PromptPolicy extends Array<{ name: string; requestable: boolean }> {
    add(prompt: object, index?: number): void;
    get(name: string): { name: string; requestable: boolean; checks: object[] } | undefined;
  }
  export const interactionPolicy: {
    base(): PromptPolicy;
    Prompt: new (options: { name: string; requestable: boolean }) => object;
    Check: new (reason: string, description: string, check: (ctx: KoaContextWithOIDC) => boolean | Promise<boolean>) => object;
  };
  export default Provider;
}
