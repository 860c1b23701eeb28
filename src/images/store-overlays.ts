// The supervisor's overlay maker for VMs that boot a profile's version: the per-VM overlay
// is made only over a sealed version of this store (a client VM must never be layered on
// a draft someone may still write, nor on a file outside the store), and it records the
// version's absolute path and format. Where overlays live is the run directory's business
// (RunDir's overlayRoot: a tmpfs, say); they are deleted with the VM.
import { LabvirtError } from '../domain/errors.js';
import type { QemuImg } from '../qemu/image/qemu-img.js';
import type { OverlayMaker } from '../qemu/process/supervisor.js';
import type { ImageStore } from './image-store.js';

export class StoreOverlayMaker implements OverlayMaker {
  readonly #store: ImageStore;
  readonly #qemuImg: QemuImg;

  constructor(store: ImageStore, qemuImg: QemuImg) {
    this.#store = store;
    this.#qemuImg = qemuImg;
  }

  async createOverlay(dest: string, backing: string, backingFormat: string): Promise<void> {
    if (backingFormat !== 'qcow2') {
      throw new LabvirtError('IMAGE_FORMAT_UNKNOWN', { format: backingFormat, allowed: 'qcow2' });
    }
    const ref = this.#store.layout.refOf(backing);
    await this.#store.checkVersion(ref);
    await this.#qemuImg.createOverlay(dest, this.#store.pathOf(ref), 'qcow2');
  }

  /** A new empty image (a VM's scratch data disk): nothing of the store is involved. */
  async createImage(dest: string, format: 'qcow2', sizeBytes: number): Promise<void> {
    await this.#qemuImg.createImage(dest, format, sizeBytes);
  }
}
