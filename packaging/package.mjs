// `npm run package`: the .deb, the .rpm and the tarball of guestctx, all from
// dist/guestctx (the single executable: the guest needs no Node) plus the
// systemd units and the commented default configuration. Run after
// `npm run build`. Outputs in dist/:
//   guestctx_<version>-1_amd64.deb      dpkg-deb --build --root-owner-group
//   guestctx-<version>-1.x86_64.rpm     rpmbuild -bb from a temporary topdir
//   guestctx-<version>-linux-x64.tar.gz the same files as a tree under guestctx-<version>/
// Then checks them (dpkg-deb --info, rpm -qpi, lintian) unless GUESTCTX_NO_CHECK=1.
// Tools: dpkg-deb, gzip, tar (always); rpmbuild (Debian package "rpm"; the RPM is
// skipped with a warning when missing unless GUESTCTX_REQUIRE_RPM=1); lintian.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const here = path.join(top, 'packaging');
const dist = path.join(top, 'dist');
const pkg = JSON.parse(readFileSync(path.join(top, 'package.json'), 'utf8'));
const VERSION = pkg.version;
const DEB_VERSION = `${VERSION}-1`;
// Every guestctx unit in systemd/ is shipped and enabled (the three stages, and
// any hook unit such as guestctx-shutdown.service).
const UNITS = readdirSync(path.join(top, 'systemd')).filter((n) => /^guestctx[\w-]*\.service$/.test(n)).sort();
const RULES = readdirSync(path.join(top, 'systemd')).filter((n) => n.endsWith('.rules')).sort();
// Enabled at install: the units whose [Install] says WantedBy=multi-user.target
// (others, e.g. ones started by udev or by another unit, are only shipped).
const ENABLED = UNITS.filter((u) => /^\[Install\][^[]*^WantedBy=.*\bmulti-user\.target\b/ms.test(readFileSync(path.join(top, 'systemd', u), 'utf8')));
/** A maintainer script with its UNITS="..." line set to the units it enables. */
function withUnits(text) {
  return text.replace(/^UNITS=".*"$/m, `UNITS="${ENABLED.join(' ')}"`);
}
const SUMMARY = 'contextualization agent for virtual machines in clouds';
const LONG = [
  'guestctx runs inside a virtual machine at boot, finds what the cloud handed',
  'the machine (an OpenNebula context CD, a config drive, a NoCloud seed, a',
  'metadata service), decodes it without executing it and configures the guest:',
  'network, hostname, users and SSH keys, files and the user\'s own scripts.',
  '',
  'It is one self-contained executable (the Node.js runtime with the program',
  'built in), so the guest needs no Node.js, Python or other interpreter.',
];

function sh(cmd, args, opts = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024, ...opts });
  } catch (err) {
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${err.stdout ?? ''}${err.stderr ?? ''}`, { cause: err });
  }
}

function have(cmd) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

// Reproducible timestamps: the last commit, or SOURCE_DATE_EPOCH when given.
function sourceDateEpoch() {
  if (process.env.SOURCE_DATE_EPOCH) return Number(process.env.SOURCE_DATE_EPOCH);
  try {
    return Number(sh('git', ['-C', top, 'log', '-1', '--format=%ct']).trim());
  } catch (err) {
    console.warn(`package: no git timestamp (${err.message.split('\n')[0]}); using the changelog date`);
    return 1763960400;
  }
}
const EPOCH = sourceDateEpoch();

/** Licenses of the npm packages the bundle may contain: the closure of the runtime dependencies. */
function bundledPackages() {
  const seen = new Map();
  const visit = (name, fromDir) => {
    // Node's resolution: the nearest node_modules up from the requiring package.
    for (let dir = fromDir; ; dir = path.dirname(dir)) {
      const p = path.join(dir, 'node_modules', name, 'package.json');
      if (existsSync(p)) {
        const meta = JSON.parse(readFileSync(p, 'utf8'));
        const key = `${meta.name}@${meta.version}`;
        if (seen.has(key)) return;
        seen.set(key, typeof meta.license === 'string' ? meta.license : JSON.stringify(meta.license ?? meta.licenses ?? 'UNKNOWN'));
        for (const dep of Object.keys(meta.dependencies ?? {})) visit(dep, path.dirname(p));
        return;
      }
      if (dir === top || dir === path.dirname(dir)) return;
    }
  };
  for (const dep of Object.keys(pkg.dependencies ?? {})) visit(dep, top);
  return [...seen.entries()].sort(([a], [b]) => a.localeCompare(b));
}

function gzipTo(src, dst) {
  // -n semantics: no name and no timestamp in the header (lintian and reproducibility).
  writeFileSync(dst, gzipSync(readFileSync(src), { level: 9 }));
}

function put(dst, content, mode = 0o644) {
  mkdirSync(path.dirname(dst), { recursive: true });
  writeFileSync(dst, content);
  chmodSync(dst, mode);
}

let packagedExe;
/**
 * The executable to ship. Stripping dist/guestctx itself breaks it (the SEA
 * blob injected after linking is lost: it segfaults), but a node binary
 * stripped BEFORE the blob is injected works and is ~12 MB smaller, and
 * lintian wants stripped binaries. So: strip a copy of the node that built
 * dist/guestctx, inject the same dist/sea/sea.blob the same way build.mjs
 * does, and prove it starts. Any failure falls back to dist/guestctx as is.
 */
function packagedExecutable() {
  if (packagedExe) return packagedExe;
  const exe = path.join(dist, 'guestctx');
  const blob = path.join(dist, 'sea/sea.blob');
  const postject = path.join(top, 'node_modules/postject/dist/cli.js');
  if (process.env.GUESTCTX_NO_STRIP === '1' || !existsSync(blob) || !existsSync(postject) || !have('strip')) {
    packagedExe = exe;
    return exe;
  }
  const out = path.join(workDir, 'guestctx.stripped');
  try {
    sh('strip', ['--strip-all', '-o', out, process.execPath]);
    sh(process.execPath, [postject, out, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2']);
    chmodSync(out, 0o755);
    const said = sh(out, ['--version']).trim();
    if (said !== VERSION) throw new Error(`the stripped executable said "${said}" for --version`);
    sh(out, ['modules']);
    packagedExe = out;
  } catch (err) {
    console.warn(`package: shipping dist/guestctx unstripped (${err.message.split('\n')[0]})`);
    packagedExe = exe;
  }
  return packagedExe;
}

/**
 * Stage the installed tree (the same for all three formats, except where the
 * unit files live): usr/bin, the units, etc/guestctx, doc and man page.
 */
function stageTree(root, unitDir, { lintianOverrides = false } = {}) {
  const exe = path.join(dist, 'guestctx');
  if (!existsSync(exe)) throw new Error(`${exe} is missing: run "npm run build" first (without GUESTCTX_NO_SEA=1)`);
  mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
  copyFileSync(packagedExecutable(), path.join(root, 'usr/bin/guestctx'));
  chmodSync(path.join(root, 'usr/bin/guestctx'), 0o755);
  for (const u of UNITS) put(path.join(root, unitDir, u), readFileSync(path.join(top, 'systemd', u)));
  // udev rules (e.g. the one that starts guestctx-reconfigure.service) next to the units' lib dir.
  for (const r of RULES) put(path.join(root, unitDir.replace('systemd/system', 'udev/rules.d'), r), readFileSync(path.join(top, 'systemd', r)));
  if (lintianOverrides) {
    // Debian only: the reasons for the tags lintian cannot know about.
    put(path.join(root, 'usr/share/lintian/overrides/guestctx'), readFileSync(path.join(here, 'deb/lintian-overrides')));
  }
  put(path.join(root, 'etc/guestctx/guestctx.yaml'), readFileSync(path.join(here, 'etc/guestctx.yaml')));
  const doc = path.join(root, 'usr/share/doc/guestctx');
  // build.mjs copies the running node into the executable: same version. A
  // smoke run proves the injected bundle starts before it gets packaged.
  const nodeVersion = process.version;
  const said = sh(exe, ['--version']).trim();
  if (said !== VERSION) throw new Error(`${exe} --version said "${said}", expected ${VERSION}`);
  const bundled = bundledPackages().map(([k, lic]) => ` ${k} ${lic}`).join('\n');
  put(path.join(doc, 'copyright'), readFileSync(path.join(here, 'deb/copyright'), 'utf8').replace('@NODE_VERSION@', nodeVersion).replace('@BUNDLED@', bundled));
  mkdirSync(doc, { recursive: true });
  gzipTo(path.join(here, 'deb/changelog'), path.join(doc, 'changelog.Debian.gz'));
  put(path.join(doc, 'examples/rc.local.snippet'), readFileSync(path.join(top, 'systemd/rc.local.snippet')));
  mkdirSync(path.join(root, 'usr/share/man/man8'), { recursive: true });
  gzipTo(path.join(here, 'deb/guestctx.8'), path.join(root, 'usr/share/man/man8/guestctx.8.gz'));
  return nodeVersion;
}

/** Directories 0755, files keep their mode; every mtime = EPOCH (reproducible archives). */
function normalise(root) {
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) {
      chmodSync(p, 0o755);
      for (const n of readdirSync(p)) walk(path.join(p, n));
    }
    utimesSync(p, EPOCH, EPOCH);
  };
  walk(root);
}

function installedSizeKiB(root) {
  let bytes = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(path.join(p, n));
    else bytes += st.size;
  };
  walk(root);
  return Math.ceil(bytes / 1024);
}

/** Shared-library dependencies of the executable, as dpkg-shlibdeps computes them. */
function shlibDepends(stage) {
  const work = mkdtempSync(path.join(tmpdir(), 'guestctx-shlibs-'));
  try {
    mkdirSync(path.join(work, 'debian'));
    writeFileSync(path.join(work, 'debian/control'), 'Source: guestctx\n\nPackage: guestctx\nArchitecture: amd64\n');
    const out = sh('dpkg-shlibdeps', ['-O', `-e${path.join(stage, 'usr/bin/guestctx')}`], { cwd: work });
    const m = /shlibs:Depends=(.*)/.exec(out);
    return m ? m[1].trim() : 'libc6';
  } catch (err) {
    console.warn(`package: dpkg-shlibdeps unavailable (${err.message.split('\n')[0]}); using a fixed Depends`);
    return 'libc6 (>= 2.28), libgcc-s1 (>= 3.0), libstdc++6 (>= 8)';
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function buildDeb(work) {
  const stage = path.join(work, 'deb');
  stageTree(stage, 'lib/systemd/system', { lintianOverrides: true });
  const DEBIAN = path.join(stage, 'DEBIAN');
  mkdirSync(DEBIAN, { recursive: true });
  const control = [
    'Package: guestctx',
    `Version: ${DEB_VERSION}`,
    'Architecture: amd64',
    'Maintainer: guestctx maintainers <guestctx@example.org>',
    `Installed-Size: ${installedSizeKiB(stage)}`,
    `Depends: ${shlibDepends(stage)}`,
    'Section: admin',
    'Priority: optional',
    'Homepage: https://example.org/guestctx',
    `Description: ${SUMMARY}`,
    ...LONG.map((l) => (l === '' ? ' .' : ` ${l}`)),
    '',
  ].join('\n');
  put(path.join(DEBIAN, 'control'), control);
  put(path.join(DEBIAN, 'conffiles'), '/etc/guestctx/guestctx.yaml\n');
  for (const s of ['postinst', 'prerm', 'postrm']) put(path.join(DEBIAN, s), withUnits(readFileSync(path.join(here, 'deb', s), 'utf8')), 0o755);
  normalise(stage);
  const out = path.join(dist, `guestctx_${DEB_VERSION}_amd64.deb`);
  rmSync(out, { force: true });
  // xz at a low level: the 100 MB executable compresses well and -9 costs minutes.
  sh('dpkg-deb', ['--build', '--root-owner-group', '-Zxz', '-z3', stage, out], { env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) } });
  return out;
}

function rpmDate(epoch) {
  const d = new Date(epoch * 1000);
  const day = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'][d.getUTCDay()];
  const mon = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
  return `${day} ${mon} ${String(d.getUTCDate()).padStart(2, '0')} ${d.getUTCFullYear()}`;
}

function buildRpm(work) {
  const stage = path.join(work, 'rpm-stage');
  // RPM distributions keep units under /usr/lib/systemd/system.
  stageTree(stage, 'usr/lib/systemd/system');
  normalise(stage);
  const topdir = path.join(work, 'rpmbuild');
  for (const d of ['BUILD', 'BUILDROOT', 'RPMS', 'SOURCES', 'SPECS', 'SRPMS']) mkdirSync(path.join(topdir, d), { recursive: true });
  const spec = readFileSync(path.join(here, 'rpm/guestctx.spec.in'), 'utf8')
    .replaceAll('@VERSION@', VERSION)
    .replaceAll('@SUMMARY@', SUMMARY)
    .replaceAll('@DESCRIPTION@', LONG.join('\n'))
    .replaceAll('@STAGE@', stage)
    .replaceAll('@RPMDATE@', rpmDate(EPOCH))
    .replaceAll('@UNITS@', ENABLED.join(' '))
    .replaceAll('@UNIT_FILES@', [...UNITS.map((u) => `/usr/lib/systemd/system/${u}`), ...RULES.map((r) => `/usr/lib/udev/rules.d/${r}`)].map((f) => `%attr(0644,root,root) ${f}`).join('\n'));
  const specPath = path.join(topdir, 'SPECS/guestctx.spec');
  writeFileSync(specPath, spec);
  sh('rpmbuild', ['-bb', '--target', 'x86_64-linux', '--define', `_topdir ${topdir}`, '--define', '_binary_payload w3.xzdio', '--define', `source_date_epoch_from_changelog 0`, specPath], {
    env: { ...process.env, SOURCE_DATE_EPOCH: String(EPOCH) },
  });
  const rpmDir = path.join(topdir, 'RPMS/x86_64');
  const built = readdirSync(rpmDir).find((n) => n.endsWith('.rpm'));
  if (!built) throw new Error(`rpmbuild made no package in ${rpmDir}`);
  const out = path.join(dist, built);
  rmSync(out, { force: true });
  copyFileSync(path.join(rpmDir, built), out);
  return out;
}

function buildTarball(work) {
  const name = `guestctx-${VERSION}`;
  const stage = path.join(work, 'tar', name);
  stageTree(stage, 'lib/systemd/system');
  put(
    path.join(stage, 'INSTALL'),
    [
      `guestctx ${VERSION} for Linux x86-64: the files of the .deb as a tree.`,
      '',
      'Install as root (the tree mirrors /):',
      `  tar -C / --strip-components=1 --exclude=${name}/INSTALL -xzf ${name}-linux-x64.tar.gz`,
      `  systemctl enable ${ENABLED.join(' ')}`,
      '',
      'Systems without systemd: add the line in usr/share/doc/guestctx/examples/rc.local.snippet',
      'to /etc/rc.local instead of enabling the units.',
      '',
    ].join('\n'),
  );
  normalise(path.join(work, 'tar'));
  const out = path.join(dist, `${name}-linux-x64.tar.gz`);
  sh('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${EPOCH}`, '-C', path.join(work, 'tar'), '-cf', `${out.slice(0, -3)}`, name]);
  writeFileSync(out, gzipSync(readFileSync(out.slice(0, -3)), { level: 6 }));
  rmSync(out.slice(0, -3));
  return out;
}

function check(deb, rpm) {
  console.log(sh('dpkg-deb', ['--info', deb]).trimEnd());
  console.log(sh('dpkg-deb', ['--contents', deb]).trimEnd());
  if (rpm) console.log(sh('rpm', ['-qpi', '--nosignature', rpm]).trimEnd());
  if (have('lintian')) {
    // Exit status 2 = errors; warnings are documented in docs/VM-TESTS.md.
    let out = '';
    let failed = false;
    try {
      out = execFileSync('lintian', ['--tag-display-limit', '0', '--fail-on', 'error', deb], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      out = `${err.stdout ?? ''}${err.stderr ?? ''}`;
      failed = true;
    }
    console.log(`lintian:\n${out.trim() || '(no tags beyond the suppressed, documented ones)'}`);
    if (failed) throw new Error('lintian reported errors');
  } else {
    console.warn('package: lintian not installed, the .deb was not checked');
  }
}

const work = mkdtempSync(path.join(tmpdir(), 'guestctx-package-'));
const workDir = work;
try {
  const t0 = Date.now();
  const deb = buildDeb(work);
  let rpm;
  if (have('rpmbuild')) rpm = buildRpm(work);
  else if (process.env.GUESTCTX_REQUIRE_RPM === '1') throw new Error('rpmbuild is not installed (apt-get install rpm)');
  else console.warn('package: rpmbuild not installed (Debian package "rpm"): no .rpm');
  const tar = buildTarball(work);
  for (const f of [deb, rpm, tar].filter(Boolean)) console.log(`built ${path.relative(top, f)} (${statSync(f).size} bytes)`);
  if (process.env.GUESTCTX_NO_CHECK !== '1') check(deb, rpm);
  console.log(`package: done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
