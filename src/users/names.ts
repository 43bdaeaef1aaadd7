// User and group name rules. guestctx applies Debian's useradd default
// (NAME_REGEX ^[a-z_][a-z0-9_-]*[$]?$, at most 32 characters) itself, before any
// tool runs, so a bad name is reported against the key that carried it and can
// never reach a command line or a sudoers line as something else.

export const NAME_PATTERN = /^[a-z_][a-z0-9_-]*[$]?$/;
export const NAME_MAX = 32;

/** undefined when `name` is a valid user or group name, else the reason. */
export function nameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name.length > NAME_MAX) return `${JSON.stringify(name.slice(0, 40))} is ${name.length} characters, more than ${NAME_MAX}`;
  if (!NAME_PATTERN.test(name)) {
    return `${JSON.stringify(name)} is not a valid name: it must start with a lower-case letter or "_" and contain only lower-case letters, digits, "_" and "-" (optionally ending in "$")`;
  }
  return undefined;
}

/**
 * A value that goes into a colon-separated account file (gecos, home, shell)
 * or a line-oriented input: ':' and line breaks would split it. undefined when fine.
 */
export function fieldProblem(value: string): string | undefined {
  if (/[:\n\r\0]/.test(value)) return 'must not contain ":", a line break or a NUL character';
  return undefined;
}
