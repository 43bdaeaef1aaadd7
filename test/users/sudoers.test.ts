// The sudoers drop-in: rendering, the includedir line sudo needs, the file
// kept when unchanged and removed when no rule is left; with the real visudo
// (chrooted) a bad rule is named and nothing is replaced.
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../src/log/logger';
import { SUDOERS_FILE, installSudoers, renderSudoers, ruleProblem } from '../../src/users/sudoers';
import { addAccountTools, haveTools } from '../helpers/chroot-tools';
import { hostOn, makeTempRoot, type TempRoot } from '../helpers/temp-root';

let root: TempRoot;
afterEach(() => root?.cleanup());

const RULES = [
  { user: 'alice', rule: 'ALL=(ALL) NOPASSWD:ALL', source: 'context USERNAME_SUDO' },
  { user: 'bob', rule: ' ALL=(ALL) ALL ', source: 'users[1].sudo[0]' },
];

describe('sudoers', () => {
  it('renders one line per rule and maps lines back to their source', () => {
    const r = renderSudoers(RULES);
    expect(r.text.split('\n').slice(2)).toEqual(['alice ALL=(ALL) NOPASSWD:ALL', 'bob ALL=(ALL) ALL', '']);
    expect(r.lines.get(4)?.source).toBe('users[1].sudo[0]');
  });

  it.each([
    ['ALL=(ALL) ALL', undefined],
    ['', 'empty'],
    ['ALL=(ALL) ALL\nroot ALL', 'one line'],
    ['ALL=(ALL) ALL \\', 'must not end'],
  ])('ruleProblem(%j)', (rule, problem) => {
    const p = ruleProblem(rule);
    if (problem === undefined) expect(p).toBeUndefined();
    else expect(p).toContain(problem);
  });

  it('without visudo: writes 0440 unchecked with a warning, adds #includedir, then is idempotent and removable', async () => {
    root = makeTempRoot();
    root.write('etc/sudoers', 'Defaults env_reset\nroot ALL=(ALL:ALL) ALL', 0o440);
    const log = memoryLogger();
    expect(await installSudoers(hostOn(root), log, RULES, '/var/lib/guestctx/sudoers.check')).toBe('written');
    expect(root.mode(SUDOERS_FILE)).toBe(0o440);
    expect(root.read('etc/sudoers')).toBe('Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n#includedir /etc/sudoers.d\n');
    expect(root.mode('etc/sudoers')).toBe(0o440);
    expect(log.lines.join('\n')).toMatch(/visudo is not installed/);
    expect(await installSudoers(hostOn(root), log, RULES, '/var/lib/guestctx/sudoers.check')).toBe('unchanged');
    expect(await installSudoers(hostOn(root), log, [], '/var/lib/guestctx/sudoers.check')).toBe('removed');
    expect(await installSudoers(hostOn(root), log, [], '/var/lib/guestctx/sudoers.check')).toBe('none');
  });

  it.skipIf(!haveTools(true))('with the real visudo: a bad rule is named by its source, the old file stays', async () => {
    root = makeTempRoot();
    addAccountTools(root.dir, { visudo: true });
    const log = memoryLogger();
    expect(await installSudoers(hostOn(root), log, RULES, '/var/lib/guestctx/sudoers.check')).toBe('written');
    const before = root.read(SUDOERS_FILE);
    const bad = [...RULES, { user: 'carol', rule: 'ALL=(ALL NOPASSWD: ALL', source: 'users[2].sudo[0]' }];
    await expect(installSudoers(hostOn(root), log, bad, '/var/lib/guestctx/sudoers.check')).rejects.toMatchObject({ source: 'users[2].sudo[0]', message: expect.stringMatching(/rejected by visudo/) });
    expect(root.read(SUDOERS_FILE)).toBe(before);
  });
});
