// The interpreter of a scenario's `expect` data: each key is one kind of
// check against the boot's report (runtime facts) or the guest's disk after
// power-off (files, modes, owners). Every failed check becomes one line; a
// scenario fails with all of them, not just the first.
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseJson } from './report.mjs';

function ifaceByMac(addrs, mac) {
  return addrs.find((a) => (a.address ?? '').toLowerCase() === mac.toLowerCase());
}

function fmtMode(m) {
  return `0${(m & 0o7777).toString(8)}`;
}

/**
 * Check everything in `expect`. facts: { report, units, mnt, consoleText }.
 * Returns { failures: string[], passed: string[] } (passed: what was proved).
 */
export function checkExpectations(expect, facts) {
  const failures = [];
  const passed = [];
  const ok = (cond, good, bad) => (cond ? passed.push(good) : failures.push(bad));
  const { report, units, mnt } = facts;
  const section = (n) => report?.[n];

  if (!report) {
    failures.push('no report: vm-report did not run (see the console tail)');
    return { failures, passed };
  }

  if (expect.hostname !== undefined) {
    // One name, or a list of acceptable ones (short or fully qualified).
    const names = Array.isArray(expect.hostname) ? expect.hostname : [expect.hostname];
    const running = (section('hostname') ?? '').trim();
    ok(names.includes(running), `running hostname is ${running}`, `running hostname is "${running}", expected ${names.map((n) => `"${n}"`).join(' or ')}`);
    const file = readGuest(mnt, '/etc/hostname')?.trim();
    ok(names.includes(file), `/etc/hostname is ${file}`, `/etc/hostname is "${file}", expected ${names.map((n) => `"${n}"`).join(' or ')}`);
  }

  let addrs = [];
  if (expect.addresses || expect.defaultRoute) addrs = parseJson(section('ip-addr') ?? '[]', 'ip -j addr');
  for (const want of expect.addresses ?? []) {
    const iface = ifaceByMac(addrs, want.mac);
    if (!iface) {
      failures.push(`no interface with MAC ${want.mac} (have ${addrs.map((a) => `${a.ifname}=${a.address}`).join(', ')})`);
      continue;
    }
    const v4 = (iface.addr_info ?? []).filter((a) => a.family === 'inet');
    const hit = v4.find((a) => a.local === want.address && (want.prefix === undefined || a.prefixlen === want.prefix));
    const desc = `${want.address}/${want.prefix ?? '*'} on ${iface.ifname} (MAC ${want.mac})`;
    if (!hit) {
      failures.push(`expected ${desc}; it has ${v4.map((a) => `${a.local}/${a.prefixlen}`).join(', ') || 'no IPv4 address'} (state ${iface.operstate})`);
      continue;
    }
    if (want.dynamic !== undefined) {
      // `ip` marks DHCP leases "dynamic" (they carry a valid_lft); static ones do not.
      const dynamic = hit.dynamic === true;
      ok(dynamic === want.dynamic, `${desc} is ${dynamic ? 'a DHCP lease' : 'static'}`, `${desc} is ${dynamic ? 'dynamic (DHCP)' : 'static'}, expected ${want.dynamic ? 'DHCP' : 'static'}`);
    } else {
      passed.push(desc);
    }
  }

  if (expect.defaultRoute) {
    const routes = parseJson(section('ip-route') ?? '[]', 'ip -j route');
    const iface = ifaceByMac(addrs, expect.defaultRoute.mac);
    const def = routes.filter((r) => r.dst === 'default');
    const hit = def.find((r) => r.gateway === expect.defaultRoute.via && (!iface || r.dev === iface.ifname));
    ok(Boolean(hit), `default route via ${expect.defaultRoute.via} dev ${iface?.ifname}`, `no default route via ${expect.defaultRoute.via} on ${iface?.ifname ?? expect.defaultRoute.mac}; routes: ${JSON.stringify(def)}`);
  }

  for (const line of expect.resolvContains ?? []) {
    const resolv = section('resolv') ?? '';
    ok(resolv.split('\n').some((l) => l.trim() === line), `/etc/resolv.conf has "${line}"`, `/etc/resolv.conf lacks "${line}":\n${resolv}`);
  }

  for (const f of expect.files ?? []) checkFile(f, mnt, ok, failures);

  if (expect.status) {
    const st = parseJson(section('status') ?? '{}', 'guestctx status --json');
    for (const [stage, want] of Object.entries(expect.status.stages ?? {})) {
      const s = st.stages?.[stage];
      const wanted = Array.isArray(want) ? want : [want];
      ok(s && wanted.includes(s.result), `stage ${stage}: ${s?.result}`, `stage ${stage}: ${s ? s.result : 'not run'}, expected ${wanted.join(' or ')}${s?.errors?.length ? ` (errors: ${s.errors.join('; ')})` : ''}${failedModules(s)}`);
    }
    if (expect.status.datasource !== undefined) {
      const names = Object.values(st.stages ?? {}).map((s) => s?.datasource?.name).filter(Boolean);
      if (expect.status.datasource === null) ok(names.length === 0, 'no datasource recorded', `a datasource was recorded: ${names.join(', ')}`);
      else ok(names.includes(expect.status.datasource), `datasource ${expect.status.datasource}`, `datasource ${expect.status.datasource} not in status (have ${names.join(', ') || 'none'})`);
    }
    if (expect.status.instanceId !== undefined) {
      const ids = Object.values(st.stages ?? {}).map((s) => s?.instanceId).filter(Boolean);
      ok(ids.includes(expect.status.instanceId), `instance ${expect.status.instanceId}`, `instance id ${expect.status.instanceId} not in status (have ${ids.join(', ') || 'none'})`);
    }
    if (expect.status.maxStageMs !== undefined) {
      // guestctx's own work per stage (its status timer), process start excluded.
      for (const [stage, s] of Object.entries(st.stages ?? {})) {
        ok((s?.durationMs ?? Infinity) <= expect.status.maxStageMs, `stage ${stage} worked ${s?.durationMs} ms`, `stage ${stage} worked ${s?.durationMs} ms, limit ${expect.status.maxStageMs} ms`);
      }
    }
    for (const [mod, want] of Object.entries(expect.status.modules ?? {})) {
      const results = Object.entries(st.stages ?? {}).map(([stage, s]) => [stage, s?.modules?.[mod]]).filter(([, m]) => m);
      const got = results.map(([stage, m]) => `${stage}:${m.result}${m.reason ? ` (${m.reason})` : ''}${m.error ? ` (${m.error})` : ''}`);
      ok(results.some(([, m]) => m.result === want), `module ${mod}: ${want}`, `module ${mod}: ${got.join(', ') || 'absent'}, expected ${want}`);
    }
  }

  if (expect.statusWait) {
    const rc = Number((section('status-wait.rc') ?? '').trim());
    const [t0, t1] = (section('status-wait.time') ?? '').trim().split(/\s+/).map(Number);
    const took = t1 - t0;
    const rcs = expect.statusWait.exitCodes ?? [0];
    ok(rcs.includes(rc), `guestctx status --wait exited ${rc}`, `guestctx status --wait exited ${rc} (124 = killed by timeout), expected ${rcs.join('/')}: ${section('status-wait') ?? ''}`);
    ok(Number.isFinite(took) && took <= expect.statusWait.maxSeconds, `guestctx status --wait returned in ${took.toFixed(2)} s`, `guestctx status --wait took ${took} s, limit ${expect.statusWait.maxSeconds} s`);
  }

  if (expect.units) {
    for (const name of expect.units.active ?? []) {
      const u = units[name];
      ok(u && u.active === 'active' && u.result === 'success', `${name} active/success`, `${name}: ${u ? `${u.active}/${u.result} exit ${u.exitStatus}` : 'unknown'}`);
    }
    for (const name of expect.units.skipped ?? []) {
      const u = units[name];
      ok(u && u.active === 'inactive' && u.condition === 'no' && u.startS === undefined, `${name} skipped by its condition`, `${name}: ${u ? `${u.active}/${u.result}, condition ${u.condition}, started ${u.startS ?? 'never'}` : 'unknown'}, expected skipped by its condition`);
    }
    if (expect.units.maxGuestctxSeconds !== undefined) {
      // A number, or per accelerator ({ tcg, kvm }): emulation makes every
      // process start (the 87 MB executable) several times slower.
      const lim = expect.units.maxGuestctxSeconds;
      const limit = typeof lim === 'number' ? lim : lim[facts.accel ?? 'tcg'];
      const total = ['guestctx-local.service', 'guestctx.service', 'guestctx-final.service'].reduce((s, n) => s + (units[n]?.tookS ?? 0), 0);
      ok(total <= limit, `guestctx units took ${total.toFixed(2)} s in all (${facts.accel})`, `guestctx units took ${total.toFixed(2)} s in all, limit ${limit} s under ${facts.accel}`);
    }
  }

  if (expect.noFailedUnits) {
    const failed = (section('failed') ?? '').trim();
    ok(failed === '', 'no failed units', `failed units:\n${failed}`);
  }

  if (typeof expect.check === 'function') {
    for (const msg of expect.check({ report, units, mnt, readGuest: (p) => readGuest(mnt, p) }) ?? []) failures.push(msg);
  }
  return { failures, passed };
}

function failedModules(s) {
  const bad = Object.entries(s?.modules ?? {}).filter(([, m]) => m.result === 'failed');
  return bad.length ? ` failed modules: ${bad.map(([n, m]) => `${n}: ${m.error}`).join('; ')}` : '';
}

/** A guest path on the mounted disk, without following a symlink out of the image. */
function guestPath(mnt, p) {
  return path.join(mnt, path.normalize(`/${p}`));
}

export function readGuest(mnt, p) {
  if (!mnt) return undefined;
  const hostPath = guestPath(mnt, p);
  return existsSync(hostPath) && !lstatSync(hostPath).isSymbolicLink() ? readFileSync(hostPath, 'utf8') : undefined;
}

function checkFile(f, mnt, ok, failures) {
  if (!mnt) {
    failures.push(`${f.path}: the disk could not be mounted to check it`);
    return;
  }
  const p = guestPath(mnt, f.path);
  const exists = existsSync(p);
  if (f.absent) {
    ok(!exists, `${f.path} absent`, `${f.path} exists, expected absent`);
    return;
  }
  if (!exists) {
    failures.push(`${f.path} does not exist`);
    return;
  }
  const st = lstatSync(p);
  const type = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'other';
  if (f.type) ok(type === f.type, `${f.path} is a ${type}`, `${f.path} is a ${type}, expected ${f.type}`);
  if (f.mode !== undefined) ok((st.mode & 0o7777) === f.mode, `${f.path} mode ${fmtMode(st.mode)}`, `${f.path} mode ${fmtMode(st.mode)}, expected ${fmtMode(f.mode)}`);
  if (f.uid !== undefined) ok(st.uid === f.uid, `${f.path} uid ${st.uid}`, `${f.path} uid ${st.uid}, expected ${f.uid}`);
  if (f.gid !== undefined) ok(st.gid === f.gid, `${f.path} gid ${st.gid}`, `${f.path} gid ${st.gid}, expected ${f.gid}`);
  if (type !== 'file') return;
  const text = readFileSync(p, 'utf8');
  if (f.equals !== undefined) ok(text === f.equals, `${f.path} content as expected`, `${f.path} is ${JSON.stringify(text.slice(0, 200))}, expected ${JSON.stringify(f.equals)}`);
  for (const c of f.contains ?? []) ok(text.includes(c), `${f.path} contains ${JSON.stringify(c.slice(0, 40))}`, `${f.path} lacks ${JSON.stringify(c)}; it is:\n${text.slice(0, 500)}`);
  for (const c of f.lacks ?? []) ok(!text.includes(c), `${f.path} lacks ${JSON.stringify(c.slice(0, 40))}`, `${f.path} contains ${JSON.stringify(c)}`);
}
