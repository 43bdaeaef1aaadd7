// Bugs found by the robustness work, kept as plain failing tests so the lead
// sees them until the source is fixed (then they simply pass and stay as
// regression tests). Each names the minimal input and the expected behaviour.
// The two MIME bugs were fixed in 7532cf8 (declared Content-Type is used).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fromOpenNebula } from '../../src/network';
import { decodeUserData } from '../../src/userdata';
import { hostOn, makeTempRoot } from '../helpers/temp-root';
import { runChild } from './child';

describe('found bugs', () => {
  // src/userdata/mime.ts takes mailparser's `contentType`, which for a part
  // declared application/octet-stream with a file name is replaced by a guess
  // from the extension (libmime): "x.sh" -> application/x-shar, "s" ->
  // text/x-asm. The first-line sniffing that application/octet-stream must get
  // (as in cloud-init) then never happens and the script is silently unused.
  // Fix: read the declared type from the part's own Content-Type header.
  it('a "#!" part declared application/octet-stream with filename x.sh is a script', async () => {
    const msg = [
      'MIME-Version: 1.0',
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Disposition: attachment; filename="x.sh"',
      '',
      '#!/bin/sh',
      'echo hi',
      '--b--',
      '',
    ].join('\r\n');
    const out = await decodeUserData(Buffer.from(msg), { source: 'user-data' });
    expect(out.parts.map((p) => [p.kind, p.contentType, p.filename])).toEqual([['script', 'text/x-shellscript', 'x.sh']]);
    expect(out.warnings).toEqual([]);
  });

  // Found by `npm run fuzz` (target userdata). A MIME part whose first
  // Content-Type header is empty and which has a second one makes mailparser
  // hand src/userdata/mime.ts an attachment whose `contentType` is not a
  // string; `att.contentType.toLowerCase()` then throws inside the stream's
  // 'end' handler: an uncaught exception that kills the whole guestctx process
  // (and the decode promise never settles). Expected: the part is decoded, or
  // the message is reported as one ParseError, and decodeUserData resolves.
  // Fix: treat a non-string contentType as absent (sniff the first line).
  // Run in a child process because the exception escapes every try/catch.
  it('a part with an empty Content-Type header and a second one does not crash the process', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'guestctx-bug-'));
    try {
      const file = path.join(dir, 'user-data');
      writeFileSync(file, 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: \r\nContent-Type: text/plain\r\n\r\n#!/bin/sh\r\n--b--\r\n');
      const res = await runChild('decode-userdata', [file], { timeoutMs: 10_000 });
      expect(res.stderr).not.toMatch(/TypeError/);
      expect(res.code).toBe(0);
      expect(JSON.parse(res.stdout).parts + JSON.parse(res.stdout).errors.length).toBeGreaterThan(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // Found by test/robustness/secrets.test.ts. NodeHost.mkdir creates missing
  // parent directories with mode 0755 whatever mode was asked for the leaf, so
  // storeAndRunScript's mkdir('/var/lib/guestctx/instance/scripts', 0700)
  // (runcmd, user-scripts) leaves /var/lib/guestctx/instance at 0755. The
  // state directory's own 0700 still hides it, but the documented guarantee is
  // "state directories 0700". Fix: create missing parents with the leaf's mode
  // and owner (as `install -d -m` does), or create instance/ explicitly first.
  it('a nested state directory created in one call is 0700 at every level', async () => {
    const root = makeTempRoot();
    try {
      const host = hostOn(root);
      await host.mkdir('/var/lib/guestctx', { mode: 0o700, owner: 'root' });
      await host.mkdir('/var/lib/guestctx/instance/scripts', { mode: 0o700, owner: 'root' });
      expect(root.mode('var/lib/guestctx/instance/scripts')).toBe(0o700);
      expect(root.mode('var/lib/guestctx/instance').toString(8)).toBe('700');
    } finally {
      root.cleanup();
    }
  });

  // Found while probing hostile sizes. The global DNS list is de-duplicated
  // with mergeUnique (src/network/model.ts), which calls Array.includes for
  // every value: quadratic. 10 000 distinct servers take ~0.15 s, 60 000 ~5 s;
  // a 16 MiB context.sh (the accepted maximum) holds ~1.3 million, i.e. hours
  // of boot. The cloud-init v2 converter's nameservers behave the same.
  // Minimal input: ETH0_MAC=02:00:0a:00:00:17 ETH0_IP=10.0.0.5
  // DNS="<60 000 distinct addresses>". Fix: de-duplicate with a Set (linear),
  // and/or cap name servers and search domains (resolv.conf uses 3 and 6).
  it('60 000 DNS servers in the DNS context variable convert in well under a second', () => {
    const ips = Array.from({ length: 60_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`).join(' ');
    const t0 = performance.now();
    fromOpenNebula(new Map([['ETH0_MAC', '02:00:0a:00:00:17'], ['ETH0_IP', '10.0.0.5'], ['DNS', ips]]));
    // Linear work is ~50 ms here; the quadratic version takes ~5 s.
    expect(performance.now() - t0).toBeLessThan(1500);
  });
});
