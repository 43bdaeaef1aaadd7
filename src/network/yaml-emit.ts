// A small, deterministic YAML emitter for the netplan renderer. Key order is the
// insertion order the renderer chose, and any string that a YAML 1.1 or 1.2
// reader could take for something else (MACs, IPv6, yes/no, numbers) is quoted.

export type YamlValue = string | number | boolean | readonly YamlValue[] | { readonly [key: string]: YamlValue | undefined };

const PLAIN = /^[A-Za-z0-9_][A-Za-z0-9_./+-]*$/;
const AMBIGUOUS = /^(y|yes|n|no|true|false|on|off|null|~|[-+]?[0-9][0-9_]*(\.[0-9_]*)?(e[-+]?[0-9]+)?|[-+]?\.[0-9]+|\.inf|\.nan|0x[0-9a-f]+|0o[0-7]+)$/i;

export function yamlScalar(v: string | number | boolean): string {
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (PLAIN.test(v) && !AMBIGUOUS.test(v)) return v;
  return JSON.stringify(v);
}

function isScalar(v: YamlValue): v is string | number | boolean {
  return typeof v !== 'object';
}

function emit(v: YamlValue, indent: string, out: string[]): void {
  if (Array.isArray(v)) {
    for (const item of v as readonly YamlValue[]) {
      if (isScalar(item)) out.push(`${indent}- ${yamlScalar(item)}`);
      else {
        // "- key: value" with the rest of the mapping aligned under the first key.
        const sub: string[] = [];
        emit(item, `${indent}  `, sub);
        const first = sub[0] ?? '';
        out.push(`${indent}- ${first.slice(indent.length + 2)}`, ...sub.slice(1));
      }
    }
    return;
  }
  for (const [key, value] of Object.entries(v as Record<string, YamlValue | undefined>)) {
    if (value === undefined) continue;
    if (isScalar(value)) out.push(`${indent}${yamlScalar(key)}: ${yamlScalar(value)}`);
    else if (Array.isArray(value) && value.length === 0) out.push(`${indent}${yamlScalar(key)}: []`);
    else if (!Array.isArray(value) && Object.keys(value).length === 0) out.push(`${indent}${yamlScalar(key)}: {}`);
    else {
      out.push(`${indent}${yamlScalar(key)}:`);
      emit(value, `${indent}  `, out);
    }
  }
}

/** Emit a mapping as block YAML ending with a newline. */
export function toYaml(doc: { readonly [key: string]: YamlValue | undefined }): string {
  const out: string[] = [];
  emit(doc, '', out);
  return `${out.join('\n')}\n`;
}
