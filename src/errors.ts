// Typed errors. Every error names its source (file, device, URL or key) so the
// message alone tells the user what failed and why; `cause` keeps the chain.

export class GuestctxError extends Error {
  /** Where the problem is: a file path, device, URL, module or key. */
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.source = source;
    this.name = new.target.name;
  }
  /** One line for the console: "<source>: <message>". */
  describe(): string {
    return `${this.source}: ${this.message}`;
  }
}

/** A datasource was detected but could not be read or parsed. */
export class DatasourceError extends GuestctxError {}

/** Input that does not have the expected shape: context.sh, YAML, JSON, keys. */
export class ParseError extends GuestctxError {
  readonly line: number | undefined;
  constructor(source: string, message: string, options?: { cause?: unknown; line?: number }) {
    super(options?.line !== undefined ? `${source}:${options.line}` : source, message, options);
    this.line = options?.line;
  }
}

/** Configuration that is well-formed but invalid for a module (wrong type, bad value). */
export class ConfigError extends GuestctxError {}

/** A file, device or command operation through the Host failed. */
export class HostError extends GuestctxError {}

/** A module ran and failed; `details` go to status.json (e.g. each script's exit status). */
export class ModuleError extends GuestctxError {
  readonly details: Readonly<Record<string, unknown>> | undefined;
  constructor(source: string, message: string, options?: { cause?: unknown; details?: Readonly<Record<string, unknown>> }) {
    super(source, message, options);
    this.details = options?.details;
  }
}

/** Misuse of the command line. Exit code 2. */
export class UsageError extends GuestctxError {}

/** A bounded resource (size, depth, count, time) was exceeded by untrusted input. */
export class LimitError extends GuestctxError {}

/** Render any thrown value as one line, without a stack trace. */
export function describeError(err: unknown): string {
  if (err instanceof GuestctxError) {
    const cause = err.cause instanceof Error ? ` (${err.cause.message})` : '';
    return `${err.describe()}${cause}`;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
