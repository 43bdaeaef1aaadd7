// What `guestctx query` prints: the instance data with secrets replaced by a
// marker naming their size, unless --show-secrets.
import type { InstanceData } from '../types';

export function redactInstance(instance: InstanceData, showSecrets: boolean): Record<string, unknown> {
  const secret = new Set(instance.secretKeys);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(instance.raw)) {
    raw[k] = !showSecrets && secret.has(k) ? `[REDACTED ${typeof v === 'string' ? `${v.length} chars` : ''}]`.replace(' ]', ']') : v;
  }
  const bytes = (b: Buffer | undefined): string | undefined => (b === undefined ? undefined : showSecrets ? b.toString('utf8') : `[REDACTED ${b.length} bytes]`);
  return {
    datasource: instance.datasource,
    source: instance.source,
    instanceId: instance.instanceId,
    instanceIdRule: instance.instanceIdRule,
    ...(instance.hostname !== undefined ? { hostname: instance.hostname } : {}),
    publicKeys: instance.publicKeys,
    ...(instance.userData ? { userData: bytes(instance.userData) } : {}),
    ...(instance.vendorData ? { vendorData: bytes(instance.vendorData) } : {}),
    problems: instance.problems.map((p) => p.describe()),
    raw,
  };
}
