// Shared assertion for the network tests: run fn, expect a ConfigError, return it.
import { expect } from 'vitest';
import { ConfigError } from '../../src/errors';

export function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
