// A real metadata service for tests: a node:http server on 127.0.0.1 (ephemeral
// port) serving an EC2 tree (/latest/...) and an OpenStack tree (/openstack/...)
// from a JSON description, with IMDSv2 session tokens, a v1-only mode that
// refuses tokens like old services, per-path fault switches (slow, trickling,
// failing n times, black hole, HTML, reset, token expiry) and a log of every
// request so tests can count them.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A served file: text, a JSON value (served as application/json), or bytes. */
export type FileValue = string | { json: unknown } | { base64: string };

export interface MetadataSpec {
  /**
   * v2-optional (default, like EC2's "optional"): tokens are issued; a GET with
   * no token is answered, with a bad or expired one gets 401.
   * v2-required: a GET under /latest without a valid token gets 401.
   * v1-only: PUT /latest/api/token answers tokenRefusalStatus; token headers are ignored.
   */
  readonly mode?: 'v2-optional' | 'v2-required' | 'v1-only';
  /** What a v1-only service answers to the token PUT (default 404). */
  readonly tokenRefusalStatus?: number;
  /** Path (from "/") -> content. Directory listings are generated unless given explicitly. */
  readonly files: Readonly<Record<string, FileValue>>;
}

export type Fault =
  /** Wait, then answer normally. */
  | { readonly kind: 'delay'; readonly ms: number; readonly times?: number }
  /** Send the answer `chunkBytes` at a time every `intervalMs`. */
  | { readonly kind: 'trickle'; readonly intervalMs: number; readonly chunkBytes?: number; readonly times?: number }
  /** Answer this status (500, 404, 403...) `times` times, then normally. */
  | { readonly kind: 'status'; readonly status: number; readonly times?: number }
  /** Accept the request and never answer. */
  | { readonly kind: 'blackhole'; readonly times?: number }
  /** Answer 200 with an HTML page (a captive portal, a wrong server). */
  | { readonly kind: 'html'; readonly times?: number }
  /** Drop the connection without an answer. */
  | { readonly kind: 'reset'; readonly times?: number }
  /** Expire every token issued so far, then handle the request (which then gets 401). */
  | { readonly kind: 'expire-tokens'; readonly times?: number };

export interface RecordedRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
}

export interface MetadataServer {
  /** Base URL, e.g. http://127.0.0.1:43210 (no trailing slash). */
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Install (or with undefined, clear) the fault for an exact path. */
  setFault(path: string, fault: Fault | undefined): void;
  /** Make the token PUT answer `status` (403, 404, 405) like services without IMDSv2. */
  refuseToken(status: number): void;
  /** Tokens issued so far (for "never logged" assertions). */
  readonly tokens: readonly string[];
  /** Number of requests, optionally only with this method and path. */
  count(method?: string, path?: string): number;
  close(): Promise<void>;
}

export const TOKEN_PATH = '/latest/api/token';
const TOKEN_TTL_HEADER = 'x-aws-ec2-metadata-token-ttl-seconds';
const TOKEN_HEADER = 'x-aws-ec2-metadata-token';
const HTML_PAGE = '<!DOCTYPE html>\n<html><head><title>Welcome</title></head><body><p>Please sign in to use this network.</p></body></html>\n';

/** Load a spec from a fixture file (test/fixtures/datasources/<ds>/<scenario>/metadata.json). */
export function loadSpec(file: string): MetadataSpec {
  return JSON.parse(readFileSync(file, 'utf8')) as MetadataSpec;
}

function body(v: FileValue): { data: Buffer; type: string } {
  if (typeof v === 'string') return { data: Buffer.from(v, 'utf8'), type: 'text/plain' };
  if ('json' in v) return { data: Buffer.from(JSON.stringify(v.json), 'utf8'), type: 'application/json' };
  return { data: Buffer.from(v.base64, 'base64'), type: 'application/octet-stream' };
}

/** EC2-style listing of the children of `dir` ("/a/b/"): names, folders with a trailing "/". */
function listing(files: Readonly<Record<string, FileValue>>, dir: string): string | undefined {
  const names = new Set<string>();
  for (const p of Object.keys(files)) {
    if (!p.startsWith(dir) || p === dir) continue;
    const rest = p.slice(dir.length);
    const slash = rest.indexOf('/');
    names.add(slash === -1 ? rest : `${rest.slice(0, slash)}/`);
  }
  names.delete('/');
  return names.size > 0 ? [...names].join('\n') : undefined;
}

export async function startMetadataServer(spec: MetadataSpec): Promise<MetadataServer> {
  const mode = spec.mode ?? 'v2-optional';
  const requests: RecordedRequest[] = [];
  const faults = new Map<string, { fault: Fault; left: number }>();
  const tokens = new Map<string, number>();
  const issued: string[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();

  const later = (ms: number, fn: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const send = (res: http.ServerResponse, status: number, data: Buffer, type: string, extra: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': type, 'content-length': String(data.length), ...extra });
    res.end(data);
  };

  /** The fault to apply to this request, counting down its `times`. */
  const takeFault = (path: string): Fault | undefined => {
    const f = faults.get(path);
    if (f === undefined) return undefined;
    if (f.left === 0) return undefined;
    f.left--;
    return f.fault;
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse, path: string, fault: Fault | undefined): void => {
    if (fault?.kind === 'status') return send(res, fault.status, Buffer.from(`status ${fault.status}\n`), 'text/plain');
    if (fault?.kind === 'html') return send(res, 200, Buffer.from(HTML_PAGE), 'text/html; charset=utf-8');
    if (fault?.kind === 'expire-tokens') for (const t of tokens.keys()) tokens.set(t, 0);

    const ec2Tree = path.startsWith('/latest');
    if (path === TOKEN_PATH) {
      if (req.method !== 'PUT') return send(res, 405, Buffer.from('method not allowed\n'), 'text/plain');
      if (mode === 'v1-only') return send(res, spec.tokenRefusalStatus ?? 404, Buffer.from('no tokens here\n'), 'text/plain');
      const ttl = Number(req.headers[TOKEN_TTL_HEADER]);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(res, 400, Buffer.from('Missing or Invalid Parameters\n'), 'text/plain');
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, Date.now() + ttl * 1000);
      issued.push(token);
      return send(res, 200, Buffer.from(token), 'text/plain', { [TOKEN_TTL_HEADER]: String(ttl) });
    }
    if (req.method !== 'GET') return send(res, 405, Buffer.from('method not allowed\n'), 'text/plain');
    if (ec2Tree && mode !== 'v1-only') {
      const token = req.headers[TOKEN_HEADER];
      if (typeof token === 'string') {
        const exp = tokens.get(token);
        if (exp === undefined || exp <= Date.now()) return send(res, 401, Buffer.from('Unauthorized\n'), 'text/plain');
      } else if (mode === 'v2-required') {
        return send(res, 401, Buffer.from('Unauthorized\n'), 'text/plain');
      }
    }
    const file = spec.files[path];
    if (file !== undefined) {
      const { data, type } = body(file);
      if (fault?.kind === 'trickle') {
        const step = Math.max(1, fault.chunkBytes ?? 1);
        res.writeHead(200, { 'content-type': type, 'content-length': String(data.length) });
        let off = 0;
        const pump = (): void => {
          if (res.destroyed) return;
          res.write(data.subarray(off, off + step));
          off += step;
          if (off >= data.length) res.end();
          else later(fault.intervalMs, pump);
        };
        return pump();
      }
      return send(res, 200, data, type);
    }
    const list = listing(spec.files, path.endsWith('/') ? path : `${path}/`);
    if (list !== undefined) return send(res, 200, Buffer.from(list), 'text/plain');
    return send(res, 404, Buffer.from('<?xml version="1.0"?><title>404 - Not Found</title>\n'), 'text/html');
  };

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    requests.push({ method: req.method ?? 'GET', path, headers });
    // Drain the request body (the token PUT has none, but a client may send one).
    req.resume();
    req.on('end', () => {
      const fault = takeFault(path);
      if (fault?.kind === 'blackhole') return;
      if (fault?.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'delay') later(fault.ms, () => handle(req, res, path, undefined));
      else handle(req, res, path, fault);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    tokens: issued,
    setFault(path, fault) {
      if (fault === undefined) faults.delete(path);
      else faults.set(path, { fault, left: fault.times ?? -1 });
    },
    refuseToken(status) {
      faults.set(TOKEN_PATH, { fault: { kind: 'status', status }, left: -1 });
    },
    count(method, path) {
      return requests.filter((r) => (method === undefined || r.method === method) && (path === undefined || r.path === path)).length;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
