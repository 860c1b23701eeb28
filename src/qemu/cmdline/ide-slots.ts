// The seed's IDE rule: four slots, index 0 primary master, 1 primary slave,
// 2 secondary master, 3 secondary slave. A CD-ROM takes the secondary master and the
// disks fill the other slots in order, so one disk plus a CD leaves the primary slave empty.
import { LabvirtError } from '../../domain/errors.js';

export const IDE_SLOT_COUNT = 4;
export const CDROM_IDE_INDEX = 2;

export interface IdeSlot {
  readonly index: number;
  readonly bus: `ide.${number}`;
  readonly unit: 0 | 1;
}

export function ideSlot(index: number): IdeSlot {
  return { index, bus: `ide.${index >> 1}`, unit: (index & 1) as 0 | 1 };
}

/**
 * Slots for `ideDisks` disks on the IDE bus and an optional CD-ROM.
 * Throws IDE_SLOTS_EXHAUSTED when they do not fit.
 */
export function assignIdeSlots(
  ideDisks: number,
  hasCdrom: boolean,
): { disks: IdeSlot[]; cdrom: IdeSlot | undefined } {
  const total = ideDisks + (hasCdrom ? 1 : 0);
  if (total > IDE_SLOT_COUNT) {
    throw new LabvirtError('IDE_SLOTS_EXHAUSTED', { count: total }, { field: 'disks' });
  }
  const free = [0, 1, 2, 3].filter((index) => !hasCdrom || index !== CDROM_IDE_INDEX);
  return {
    disks: free.slice(0, ideDisks).map(ideSlot),
    cdrom: hasCdrom ? ideSlot(CDROM_IDE_INDEX) : undefined,
  };
}
