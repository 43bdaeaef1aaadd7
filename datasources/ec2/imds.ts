// A session with the EC2 instance metadata service: IMDSv2 (a session token
// from PUT /latest/api/token sent on every GET) with a documented fallback to
// IMDSv1 for services that predate tokens. The token lives in this object only:
// it is never logged (it is registered as a secret with the logger) and never
// reaches InstanceData.
import { DatasourceError } from '../../src/errors';
import type { Host, HttpResponse } from '../../src/host/host';
import type { Budget } from '../../src/http/budget';
import type { Limiter } from '../../src/http/limit';
import { textBody, unexpectedStatus } from '../../src/http/response';
import { fetchWithRetry, type RetryPolicy } from '../../src/http/retry';
import type { Logger } from '../../src/log/logger';

export const TOKEN_PATH = '/latest/api/token';
export const TOKEN_TTL_HEADER = 'X-aws-ec2-metadata-token-ttl-seconds';
export const TOKEN_HEADER = 'X-aws-ec2-metadata-token';
/** Six hours, the longest TTL the service grants: one token serves the whole boot. */
export const TOKEN_TTL_SECONDS = 21600;
const MAX_TOKEN_BYTES = 4096;

/**
 * Token answers that mean "this service does not do IMDSv2", so IMDSv1 is used:
 * - 404: an older or EC2-compatible service that has no /latest/api/token;
 * - 405: a service that knows the path but not PUT;
 * - 403: what AWS's SDKs also treat as "fall back to v1" (a proxy refusing
 *   PUT). On AWS itself 403 can also mean the metadata endpoint is turned off;
 *   then the v1 GETs get 403 too and the read fails with that status.
 * Every other answer is an error: 400 (our request is wrong), 401, a 2xx with
 * no usable token. Timeouts, connection errors and 5xx are retried inside the
 * budget and never downgrade to v1: a slow service is not an old one.
 */
export const V1_FALLBACK_STATUSES: ReadonlySet<number> = new Set([403, 404, 405]);

export interface ImdsOptions {
  readonly host: Host;
  readonly baseUrl: string;
  readonly budget: Budget;
  readonly policy: RetryPolicy;
  readonly limit: Limiter;
  readonly log: Logger;
}

export class ImdsSession {
  /** 'v2' once a token was issued, 'v1' after a documented refusal. */
  mode: 'v1' | 'v2' | undefined;
  /** The one refresh a session allows, shared, so a 401 loop cannot happen. */
  private refresh: Promise<string> | undefined;
  private token: string | undefined;
  private firstToken: string | undefined;

  constructor(private readonly opts: ImdsOptions) {}

  url(path: string): string {
    return `${this.opts.baseUrl.replace(/\/+$/, '')}${path}`;
  }

  /** Get a token, or settle on IMDSv1 when the service refuses the way old services do. */
  async start(): Promise<void> {
    const token = await this.requestToken();
    if (token === undefined) {
      this.mode = 'v1';
      return;
    }
    this.token = token;
    this.firstToken = token;
    this.mode = 'v2';
  }

  private async requestToken(): Promise<string | undefined> {
    const { host, budget, policy, limit, log } = this.opts;
    const url = this.url(TOKEN_PATH);
    const res = await limit(() =>
      fetchWithRetry(host, url, { method: 'PUT', headers: { [TOKEN_TTL_HEADER]: String(TOKEN_TTL_SECONDS) }, maxBytes: MAX_TOKEN_BYTES, maxRedirects: 0 }, { budget, policy, log }),
    );
    if (V1_FALLBACK_STATUSES.has(res.status)) {
      log.info(`${url}: HTTP ${res.status} to the token request; using IMDSv1 (no session token)`);
      return undefined;
    }
    if (res.status !== 200) throw unexpectedStatus(res, 'to the IMDSv2 token request');
    const token = textBody(res, 'a session token').trim();
    if (token === '' || !/^[\x21-\x7e]+$/.test(token)) throw new DatasourceError(url, 'the IMDSv2 token is empty or not printable ASCII');
    log.addSecret(token);
    return token;
  }

  /** One shared refresh per session: concurrent 401s wait for the same new token. */
  private async refreshToken(): Promise<string> {
    this.refresh ??= this.requestToken().then((t) => {
      if (t === undefined) throw new DatasourceError(this.url(TOKEN_PATH), 'the service refused a new token after a 401');
      this.token = t;
      return t;
    });
    return this.refresh;
  }

  /**
   * GET a path under the base URL. 404 resolves to undefined when `optional`
   * (the key does not exist on this instance); a 401 with the current token
   * refreshes it once and tries again; any other non-200 is a DatasourceError.
   */
  async get(path: string, opts: { maxBytes: number; optional: boolean }): Promise<HttpResponse | undefined> {
    const { host, budget, policy, limit, log } = this.opts;
    const url = this.url(path);
    // No redirects: a metadata service never sends one, and following it would
    // hand the session token to another server.
    const send = (token: string | undefined): Promise<HttpResponse> =>
      limit(() => fetchWithRetry(host, url, { method: 'GET', headers: token !== undefined ? { [TOKEN_HEADER]: token } : {}, maxBytes: opts.maxBytes, maxRedirects: 0 }, { budget, policy, log }));
    const used = this.token;
    let res = await send(used);
    if (res.status === 401) {
      if (this.mode !== 'v2') throw new DatasourceError(url, 'HTTP 401: the service wants an IMDSv2 token but refused to issue one');
      // Only an answer to the first token earns a refresh (shared by every
      // request that saw it expire); a 401 to the refreshed token is final.
      if (used !== this.firstToken) throw new DatasourceError(url, 'HTTP 401 even with a fresh IMDSv2 token');
      if (this.refresh === undefined) log.info(`${url}: HTTP 401 (token expired or revoked); requesting a new token`);
      res = await send(await this.refreshToken());
      if (res.status === 401) throw new DatasourceError(url, 'HTTP 401 even with a fresh IMDSv2 token');
    }
    if (res.status === 404 && opts.optional) return undefined;
    if (res.status === 404) throw new DatasourceError(url, 'HTTP 404: required key is missing');
    if (res.status === 403) throw new DatasourceError(url, 'HTTP 403: access refused (instance metadata turned off?)');
    if (res.status !== 200) throw unexpectedStatus(res);
    return res;
  }
}
