// PasswordAuthentication editing: drop-in when sshd_config includes
// sshd_config.d, in-place edit otherwise, every other line kept as it was.
import { describe, expect, it } from 'vitest';
import { dropInText, editSshdConfig, includesDropIns, setsPasswordAuthentication } from '../../src/users/sshd-pwauth';

const DEBIAN = `Include /etc/ssh/sshd_config.d/*.conf

#PermitRootLogin prohibit-password
KbdInteractiveAuthentication no
UsePAM yes
Subsystem\tsftp\t/usr/lib/openssh/sftp-server
`;

describe('sshd PasswordAuthentication', () => {
  it.each([
    ['Debian include', DEBIAN, true],
    ['relative include', 'Include sshd_config.d/*.conf\n', true],
    ['include among others', 'Include /etc/ssh/other.conf /etc/ssh/sshd_config.d/*.conf\n', true],
    ['no include', 'UsePAM yes\n', false],
    ['include only inside Match', 'Match User bob\n  Include /etc/ssh/sshd_config.d/*.conf\n', false],
  ])('%s: includesDropIns is %s', (_n, text, expected) => {
    expect(includesDropIns(text)).toBe(expected);
  });

  it.each([
    ['replaces the value, keeps the rest', 'Port 22\nPasswordAuthentication yes\nUsePAM yes\n', 'no', 'Port 22\nPasswordAuthentication no\nUsePAM yes\n'],
    ['keeps "=" syntax and indentation', '  passwordauthentication = no\n', 'yes', '  passwordauthentication = yes\n'],
    ['leaves commented lines, appends', '#PasswordAuthentication yes\n', 'no', '#PasswordAuthentication yes\nPasswordAuthentication no\n'],
    ['adds before the first Match block', 'UsePAM yes\nMatch User x\n  PasswordAuthentication yes\n', 'no', 'UsePAM yes\nPasswordAuthentication no\nMatch User x\n  PasswordAuthentication yes\n'],
    ['appends a newline to a file without one', 'UsePAM yes', 'yes', 'UsePAM yes\nPasswordAuthentication yes\n'],
  ])('main file: %s', (_n, before, value, after) => {
    expect(editSshdConfig(before, value as 'yes' | 'no', false)).toBe(after);
  });

  it('with drop-ins, only a global line read before the Include is corrected', () => {
    expect(editSshdConfig(DEBIAN, 'no', true)).toBe(DEBIAN);
    const early = 'PasswordAuthentication yes\nInclude /etc/ssh/sshd_config.d/*.conf\n';
    expect(editSshdConfig(early, 'no', true)).toBe('PasswordAuthentication no\nInclude /etc/ssh/sshd_config.d/*.conf\n');
    const late = 'Include /etc/ssh/sshd_config.d/*.conf\nPasswordAuthentication yes\n';
    expect(editSshdConfig(late, 'no', true)).toBe(late);
  });

  it('renders and recognises the drop-in', () => {
    expect(dropInText('no')).toMatch(/^PasswordAuthentication no$/m);
    expect(setsPasswordAuthentication(dropInText('yes'))).toBe(true);
    expect(setsPasswordAuthentication('# PasswordAuthentication yes\n')).toBe(false);
  });
});
