// A small EC2 instance metadata service (IMDSv2 tokens, then plain GETs) on
// the host's 127.0.0.1, offered to the guest at 169.254.169.254:80 through
// qemu's guestfwd. Serves a tree given as data: { 'meta-data/instance-id':
// 'i-…', 'user-data': '…' }; directory listings are derived from it. Every
// request is recorded so a scenario can assert what the guest asked for.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

export async function startEc2Server(tree) {
  const tokens = new Set();
  const requests = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://imds');
    requests.push({ method: req.method, path: url.pathname, token: Boolean(req.headers['x-aws-ec2-metadata-token']) });
    const send = (code, body = '') => {
      res.writeHead(code, { 'content-type': 'text/plain' });
      res.end(body);
    };
    if (req.method === 'PUT' && url.pathname === '/latest/api/token') {
      if (!req.headers['x-aws-ec2-metadata-token-ttl-seconds']) return send(400, 'missing TTL header');
      const t = randomBytes(24).toString('base64url');
      tokens.add(t);
      return send(200, t);
    }
    if (req.method !== 'GET') return send(405);
    // IMDSv2 only (as EC2 with HttpTokens=required): a GET without a token is refused.
    if (!tokens.has(String(req.headers['x-aws-ec2-metadata-token'] ?? ''))) return send(401);
    const rel = url.pathname.replace(/^\/latest\//, '');
    if (rel === url.pathname) return send(404);
    if (Object.hasOwn(tree, rel)) return send(200, tree[rel]);
    // A directory: the immediate children, sub-directories with a trailing slash.
    const dir = rel === '' || rel.endsWith('/') ? rel : `${rel}/`;
    const kids = new Set();
    for (const k of Object.keys(tree)) {
      if (!k.startsWith(dir)) continue;
      const rest = k.slice(dir.length);
      const i = rest.indexOf('/');
      kids.add(i < 0 ? rest : rest.slice(0, i + 1));
    }
    return kids.size ? send(200, [...kids].sort().join('\n')) : send(404);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    port,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
