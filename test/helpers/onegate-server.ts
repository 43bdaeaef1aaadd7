// Real HTTP servers on 127.0.0.1 for the end-of-boot modules: a OneGate
// service that checks the token and VM id headers the way OpenNebula's does
// (401 without them) and can fail its first answers with 500s, and a plain
// recording server for phone_home. Every request is kept, body included, so
// tests assert method, path, headers and body as the server really saw them.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  readonly method: string;
  /** Path and query as sent, e.g. "/vm" or "/phone/i-1?x=1". */
  readonly path: string;
  /** Header names in lower case. */
  readonly headers: Record<string, string>;
  readonly body: string;
}

export interface Answer {
  readonly status: number;
  readonly body?: string;
  readonly type?: string;
}

export interface TestServer {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:40123. */
  readonly url: string;
  readonly requests: SeenRequest[];
  close(): Promise<void>;
}

/** A server that records every request and answers what `answer` says (default 200 "ok"). */
export async function startRecordingServer(answer: (req: SeenRequest, index: number) => Answer = () => ({ status: 200 })): Promise<TestServer> {
  const requests: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (b: Buffer) => chunks.push(b));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const seen: SeenRequest = { method: req.method ?? '', path: req.url ?? '', headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      const a = answer(seen, requests.length - 1);
      const data = Buffer.from(a.body ?? `${a.status === 200 ? 'ok' : `status ${a.status}`}\n`);
      res.writeHead(a.status, { 'content-type': a.type ?? 'text/plain', 'content-length': String(data.length) });
      res.end(data);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

export interface OneGateOptions {
  /** The token the service accepts in X-ONEGATE-TOKEN. */
  readonly token: string;
  /** The VM id the token belongs to (X-ONEGATE-VMID). */
  readonly vmid: string;
  /** Answer the first n requests with 500, as a OneGate still starting up would. */
  readonly failFirst?: number;
}

export interface OneGateServer extends TestServer {
  /** The VM's user template as updated by PUT /vm (READY=YES lands here). */
  readonly userTemplate: Map<string, string>;
}

/**
 * A OneGate service: PUT /vm with a form body (KEY=VALUE pairs) updates the
 * VM's user template; wrong or missing token / VM id answer 401, other paths
 * 404, other methods on /vm 405.
 */
export async function startOneGate(opts: OneGateOptions): Promise<OneGateServer> {
  const userTemplate = new Map<string, string>();
  let failuresLeft = opts.failFirst ?? 0;
  const server = await startRecordingServer((req) => {
    if (failuresLeft > 0) {
      failuresLeft--;
      return { status: 500, body: 'Internal Server Error\n' };
    }
    if (req.headers['x-onegate-token'] !== opts.token || req.headers['x-onegate-vmid'] !== opts.vmid) return { status: 401, body: 'Not authorized\n' };
    if (req.path !== '/vm') return { status: 404, body: 'Not found\n' };
    if (req.method !== 'PUT') return { status: 405, body: 'Method not allowed\n' };
    for (const [k, v] of new URLSearchParams(req.body)) userTemplate.set(k, v);
    return { status: 200, body: '' };
  });
  return Object.assign(server, { userTemplate });
}
