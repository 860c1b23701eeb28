// Encoding of QEMU's "key=value,key=value" option strings. A comma inside a value must be
// doubled or it would start a new option: that is how a path like "a,script=/x" would
// smuggle options in. Paths of block devices go through JSON instead (see build-argv).

export type OptValue = string | number | boolean;

export function escapeOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

function encodeValue(value: OptValue): string {
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return escapeOptValue(String(value));
}

/**
 * `qemuOpts('socket', { id: 'qmp', path: '/run/x' })` → `socket,id=qmp,path=/run/x`.
 * Entries whose value is undefined are left out; the order of keys is kept.
 */
export function qemuOpts(
  head: string | undefined,
  options: Readonly<Record<string, OptValue | undefined>>,
): string {
  const parts = head === undefined ? [] : [head];
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined) parts.push(`${key}=${encodeValue(value)}`);
  }
  return parts.join(',');
}
