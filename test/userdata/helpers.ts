// Test helpers for user-data: a real HTTP server on 127.0.0.1 serving fixture files (for
// #include), a bounded fetch on top of global fetch (what the pipeline would inject), and
// the MIME builder that runs test/helpers/make-mime.py (Python's email package).
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const FIXTURES = fileURLToPath(new URL('../fixtures/userdata', import.meta.url));
const MAKE_MIME = fileURLToPath(new URL('../helpers/make-mime.py', import.meta.url));

export interface FixtureServer {
  readonly origin: string;
  /** Base URL of a scenario's http/ folder. */
  base(scenario: string): string;
  /** A URL that accepts the connection and never answers. */
  readonly slowUrl: string;
  /** Paths requested so far, in order. */
  readonly requests: string[];
  close(): Promise<void>;
}

/** Replace {{BASE}} and {{SLOW}} placeholders in fixture text. */
export function substitute(text: string, server: FixtureServer, scenario: string): string {
  return text.replaceAll('{{BASE}}', server.base(scenario)).replaceAll('{{SLOW}}', server.slowUrl);
}

/**
 * Serve /<scenario>/<file> from FIXTURES/<scenario>/http/<file>, with placeholders
 * substituted; /<scenario>/<file>.gz serves <file> gzipped; anything else is a 404.
 */
export async function startFixtureServer(): Promise<FixtureServer> {
  const requests: string[] = [];
  const hanging = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(url.pathname);
    if (url.pathname === '/slow') {
      hanging.add(res);
      return;
    }
    const [, scenario = '', ...rest] = url.pathname.split('/');
    let name = rest.join('/');
    const gz = name.endsWith('.gz');
    if (gz) name = name.slice(0, -3);
    const file = path.join(FIXTURES, scenario, 'http', name);
    if (scenario === '' || name === '' || name.includes('..') || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    const text = substitute(readFileSync(file, 'utf8'), api, scenario);
    const body = gz ? gzipSync(text) : Buffer.from(text);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  const api: FixtureServer = {
    origin,
    base: (scenario) => `${origin}/${scenario}`,
    slowUrl: `${origin}/slow`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return api;
}

/** The kind of fetch the pipeline injects: bounded in time, failing on non-2xx statuses. */
export function boundedFetch(timeoutMs: number): (url: string) => Promise<Buffer> {
  return async (url) => {
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') throw new Error(`timed out after ${timeoutMs} ms`, { cause: err });
      throw err;
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`HTTP ${res.status}`);
    }
    return Buffer.from(await res.arrayBuffer());
  };
}

/** Build a MIME message from a make-mime.py JSON spec. */
export function makeMime(specPath: string): Buffer {
  return execFileSync('python3', [MAKE_MIME, specPath], { maxBuffer: 64 * 1024 * 1024 });
}
