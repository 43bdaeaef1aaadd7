// Child process: decode one user-data file and print what happened and what it
// cost, as one JSON line: errors (class and message), part count, time, and
// the growth of the resident set (maxRSS after minus RSS before, in KiB).
// argv: FILE [maxDecompressedBytes]
import { readFileSync } from 'node:fs';
import { decodeUserData } from '../../../src/userdata';

async function main(): Promise<void> {
  const [file, maxDecompressed] = process.argv.slice(2);
  const data = readFileSync(file as string);
  global.gc?.();
  const rssBeforeKiB = Math.round(process.memoryUsage().rss / 1024);
  const t0 = performance.now();
  const out = await decodeUserData(data, { source: 'user-data', ...(maxDecompressed ? { limits: { maxDecompressedBytes: Number(maxDecompressed) } } : {}) });
  const ms = Math.round(performance.now() - t0);
  const maxRssKiB = process.resourceUsage().maxRSS;
  process.stdout.write(
    `${JSON.stringify({ errors: out.errors.map((e) => ({ name: e.name, message: e.message })), parts: out.parts.length, partBytes: out.parts.reduce((n, p) => n + p.content.length, 0), ms, rssBeforeKiB, maxRssKiB, growthKiB: maxRssKiB - rssBeforeKiB })}\n`,
  );
}

void main();
