// Rendering commands as a POSIX shell script (runcmd): a string is a line of
// shell as the user wrote it; a list is an argv whose every word is quoted so
// the shell passes it through unchanged, whatever characters it holds.
import type { Command } from '../config/cloud-config';

const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** One word for sh: left bare when it is plainly safe, otherwise single-quoted. */
export function shellQuote(word: string): string {
  if (SAFE_WORD.test(word)) return word;
  // Inside single quotes nothing is special except the quote itself: close, escape, reopen.
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function commandLine(cmd: Command): string {
  return typeof cmd === 'string' ? cmd : cmd.map(shellQuote).join(' ');
}

/** A #!/bin/sh script running the commands in order (no `set -e`: every line runs, as in cloud-init). */
export function renderShellScript(commands: readonly Command[]): string {
  return `#!/bin/sh\n${commands.map(commandLine).join('\n')}\n`;
}
