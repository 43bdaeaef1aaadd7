// Logging: short human lines on the console (stderr), an optional stream of JSON
// events on stdout (--events json), and a pino log file (mode 0600) in the guest.
// Every line passes through a secret filter: values registered as secrets
// (passwords, tokens, user-data) are masked wherever they appear.
import { chmodSync, closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';

export type EventType = 'task-start' | 'task-end' | 'warning' | 'error' | 'progress' | 'info';
type Level = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A structured event for hosts and people following the run. */
  event(type: EventType, msg: string, fields?: Record<string, unknown>): void;
  /** The same sinks, with every line tagged with a task (module or stage) name. */
  child(task: string): Logger;
  /** Mask this value in every later line (ignored when shorter than 4 characters). */
  addSecret(value: string): void;
  /**
   * A line for the person at the console only (a generated password): never the
   * log file, never the event stream, never masked. At boot it goes to
   * /dev/console, not through the unit's stdout (which the journal keeps).
   */
  consoleOnly(line: string): void;
}

export interface LogSinks {
  /** Human console lines (stderr). */
  console?: (line: string) => void;
  /** JSON event lines (stdout with --events json). */
  events?: (line: string) => void;
  /** Secret lines for the operator only (default: /dev/console, else stderr). */
  secretConsole?: (line: string) => void;
  /** Structured file log. */
  file?: { write(level: Level, obj: Record<string, unknown>, msg: string): void; flush(): void };
  verbose: boolean;
}

class Secrets {
  private readonly values = new Set<string>();
  add(v: string): void {
    if (v.length >= 4) this.values.add(v);
  }
  mask(text: string): string {
    let out = text;
    for (const v of this.values) if (out.includes(v)) out = out.split(v).join('[REDACTED]');
    return out;
  }
  maskFields(fields: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
    if (fields === undefined || this.values.size === 0) return fields;
    return JSON.parse(this.mask(JSON.stringify(fields))) as Record<string, unknown>;
  }
}

class SinkLogger implements Logger {
  constructor(
    private readonly sinks: LogSinks,
    private readonly secrets: Secrets,
    private readonly task: string,
  ) {}

  private emit(level: Level, event: EventType | undefined, rawMsg: string, rawFields?: Record<string, unknown>): void {
    const msg = this.secrets.mask(rawMsg);
    const fields = this.secrets.maskFields(rawFields);
    this.sinks.file?.write(level, { task: this.task, ...(event ? { event } : {}), ...(fields ?? {}) }, msg);
    if (this.sinks.console && (level !== 'debug' || this.sinks.verbose)) {
      const prefix = level === 'error' ? 'error: ' : level === 'warn' ? 'warning: ' : '';
      this.sinks.console(`${this.task}: ${prefix}${msg}`);
    }
    if (this.sinks.events && event) {
      this.sinks.events(JSON.stringify({ timestamp: new Date().toISOString(), type: event, task: this.task, message: msg, ...(fields ?? {}) }));
    }
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.emit('debug', undefined, msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.emit('info', 'info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.emit('warn', 'warning', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.emit('error', 'error', msg, fields);
  }
  event(type: EventType, msg: string, fields?: Record<string, unknown>): void {
    const level: Level = type === 'error' ? 'error' : type === 'warning' ? 'warn' : type === 'progress' || type === 'task-start' ? 'debug' : 'info';
    this.emit(level, type, msg, fields);
  }
  child(task: string): Logger {
    return new SinkLogger(this.sinks, this.secrets, task);
  }
  addSecret(value: string): void {
    this.secrets.add(value);
  }
  consoleOnly(line: string): void {
    (this.sinks.secretConsole ?? writeDevConsole)(`${this.task}: ${line}`);
  }
}

/** Write straight to the system console; fall back to stderr when there is none. */
function writeDevConsole(line: string): void {
  try {
    const fd = openSync('/dev/console', 'w');
    try {
      writeSync(fd, `${line}\n`);
    } finally {
      closeSync(fd);
    }
  } catch {
    // No console device (a container, a test): the terminal that ran us is the console.
    process.stderr.write(`${line}\n`);
  }
}

export function createLogger(sinks: LogSinks, task = 'guestctx'): Logger {
  return new SinkLogger(sinks, new Secrets(), task);
}

/** A logger that keeps its lines in memory: for tests and for `query`. */
export function memoryLogger(): Logger & { lines: string[]; events: Record<string, unknown>[]; consoleLines: string[] } {
  const lines: string[] = [];
  const events: Record<string, unknown>[] = [];
  const consoleLines: string[] = [];
  const logger = createLogger({ console: (l) => lines.push(l), events: (l) => events.push(JSON.parse(l) as Record<string, unknown>), secretConsole: (l) => consoleLines.push(l), verbose: true });
  return Object.assign(logger, { lines, events, consoleLines });
}

/**
 * The pino file sink. pino is loaded here, on the run path only, so `status`,
 * `query` and `--version` do not pay for it. The file is created 0600 before
 * pino opens it, so no secret can ever sit in a world-readable log.
 */
export async function pinoFileSink(file: string): Promise<NonNullable<LogSinks['file']>> {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
  const { default: pino } = await import('pino');
  const dest = pino.destination({ dest: file, sync: true, append: true, mode: 0o600 });
  const p = pino({ base: undefined, level: 'debug', timestamp: pino.stdTimeFunctions.isoTime }, dest);
  return {
    write(level, obj, msg) {
      p[level](obj, msg);
    },
    flush() {
      dest.flushSync();
    },
  };
}
