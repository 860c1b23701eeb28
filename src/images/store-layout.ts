// Where the image store keeps its files. Every name is made from ids (UUIDs), never from
// what a user typed, and every name handed back (say, from the database) is parsed against
// the one shape the store makes, so no path can lead out of the store (invariant 6). Pure.
//
//   ROOT/versions/PROFILE/VERSION.qcow2   versions (0444) and drafts (writable) of a profile
//   ROOT/tmp/work/RANDOM.qcow2            files being made; moved into versions/ when whole
//
// Both directories that hold images are two levels below ROOT, so one relative backing
// name, "../../versions/PROFILE/VERSION.qcow2", reads the same from a file being made and
// from its final place, and the whole store can move without rewriting any image.
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LabvirtError } from '../domain/errors.js';
import { parseUuid } from '../qemu/cmdline/validate.js';

/** One version (or draft) of a profile's image, named by ids only. */
export interface VersionRef {
  readonly profileId: string;
  readonly versionId: string;
}

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const STORE_FILE = new RegExp(`^versions/(${UUID})/(${UUID})\\.qcow2$`);

/** A version reference with both ids checked (UUID shape) and in canonical lower case. */
export function parseVersionRef(ref: VersionRef): VersionRef {
  const id = (value: unknown, field: string): string => {
    if (typeof value !== 'string') {
      throw new LabvirtError('UUID_MALFORMED', { uuid: String(value) }, { field });
    }
    try {
      return parseUuid(value);
    } catch (error) {
      throw new LabvirtError('UUID_MALFORMED', { uuid: value }, { field, cause: error });
    }
  };
  return { profileId: id(ref.profileId, 'profileId'), versionId: id(ref.versionId, 'versionId') };
}

export class StoreLayout {
  /** Absolute. */
  readonly root: string;
  readonly versionsDir: string;
  readonly workDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.versionsDir = join(this.root, 'versions');
    this.workDir = join(this.root, 'tmp', 'work');
  }

  /** The store-relative name of a version's file, as the database records it. */
  file(ref: VersionRef): string {
    const { profileId, versionId } = parseVersionRef(ref);
    return `versions/${profileId}/${versionId}.qcow2`;
  }

  profileDir(ref: VersionRef): string {
    return join(this.versionsDir, parseVersionRef(ref).profileId);
  }

  path(ref: VersionRef): string {
    return join(this.root, this.file(ref));
  }

  /** How a layer records `ref` as its backing file (see the layout note above). */
  backingName(ref: VersionRef): string {
    return `../../${this.file(ref)}`;
  }

  /** A file being made, named by a fresh id. */
  workPath(id: string): string {
    return join(this.workDir, `${parseUuid(id)}.qcow2`);
  }

  /**
   * The version a name stands for: a store-relative name ("versions/P/V.qcow2") or an
   * absolute path inside the store. Anything else is refused, whatever it would resolve to.
   */
  refOf(file: string): VersionRef {
    const name = isAbsolute(file) ? relative(this.root, file).split(sep).join('/') : file;
    const match = STORE_FILE.exec(name);
    if (match?.[1] === undefined || match[2] === undefined) {
      throw new LabvirtError('IMAGE_OUTSIDE_STORE', { path: file });
    }
    return { profileId: match[1], versionId: match[2] };
  }

  /** The absolute path of a stored file's name (see refOf), refusing any other path. */
  resolve(file: string): string {
    return this.path(this.refOf(file));
  }
}
