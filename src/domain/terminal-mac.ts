// The MAC of a terminal's VM: the same for every VM that serves the terminal, so the VM
// gets the same DHCP address every session. Locally administered unicast (the first
// octet's second bit set, its first clear), like the per-VM MACs of macFromUuid, but
// with its own first octet (0x56, not QEMU's 52:54:00), so the two kinds never meet, and
// 40 bits from the terminal's id, so terminals' VMs practically never share one (the
// database refuses two active VMs with one MAC anyway: MAC_IN_USE).
import { createHash } from 'node:crypto';

export const TERMINAL_MAC_PREFIX = '56';

export function terminalVmMac(terminalId: string): string {
  const digest = createHash('sha256')
    .update(`labvirt-terminal-vm:${terminalId.toLowerCase()}`)
    .digest();
  const tail = [...digest.subarray(0, 5)].map((byte) => byte.toString(16).padStart(2, '0'));
  return [TERMINAL_MAC_PREFIX, ...tail].join(':');
}
