// The image store's layout: names from ids only, and a resolver no name escapes. Pure.
import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { LabvirtError } from '../../src/domain/errors.js';
import { StoreLayout, parseVersionRef } from '../../src/images/store-layout.js';
import { fails } from '../helpers/assertions.js';

const P = '0b6a3b0e-5c1f-4d1e-9a53-2f4f0e6d7c11';
const V = 'a2c4e6f8-1234-4abc-8def-0123456789ab';
const layout = new StoreLayout('/srv/labvirt/images');

describe('image store layout', () => {
  it('names a version by its ids', () => {
    const ref = { profileId: P, versionId: V };
    assert.equal(layout.file(ref), `versions/${P}/${V}.qcow2`);
    assert.equal(layout.path(ref), `/srv/labvirt/images/versions/${P}/${V}.qcow2`);
    assert.equal(layout.workPath(V), `/srv/labvirt/images/tmp/work/${V}.qcow2`);
    assert.deepEqual(parseVersionRef({ profileId: P.toUpperCase(), versionId: V }), ref);
  });

  it('records backing files so they read the same from the work dir and from versions/', () => {
    const parent = { profileId: P, versionId: V };
    const name = layout.backingName(parent);
    assert.equal(name, `../../versions/${P}/${V}.qcow2`);
    const fromWork = resolve(dirname(layout.workPath(V)), name);
    const fromOtherProfile = resolve(
      layout.versionsDir,
      'c0ffee00-0000-4000-8000-000000000000',
      name,
    );
    assert.equal(fromWork, layout.path(parent));
    assert.equal(fromOtherProfile, layout.path(parent));
  });

  it('refuses ids that are not UUIDs, naming the field', () => {
    for (const bad of ['', '..', '../../etc', `${P}/x`, `${P}\0`, 'x'.repeat(36), ' ' + P]) {
      assert.throws(
        () => layout.file({ profileId: bad, versionId: V }),
        fails('UUID_MALFORMED', { uuid: bad }),
      );
      assert.throws(
        () => parseVersionRef({ profileId: P, versionId: bad }),
        (error) => error instanceof LabvirtError && error.field === 'versionId',
      );
    }
  });

  it('resolves only names of the shape it makes', () => {
    assert.equal(
      layout.resolve(`versions/${P}/${V}.qcow2`),
      layout.path({ profileId: P, versionId: V }),
    );
    assert.equal(
      layout.resolve(layout.path({ profileId: P, versionId: V })),
      layout.path({ profileId: P, versionId: V }),
    );
    for (const bad of [
      `versions/${P}/../${P}/${V}.qcow2`,
      `./versions/${P}/${V}.qcow2`,
      `versions/${P}/${V}.qcow2.tmp`,
      `versions/${P}/${V}.raw`,
      `tmp/work/${V}.qcow2`,
      '/etc/passwd',
      '/srv/labvirt/images/../images2/versions',
      `/srv/labvirt/imagesX/versions/${P}/${V}.qcow2`,
      `/srv/labvirt/images/versions/${P}/${V}.qcow2/../../../../etc/shadow`,
    ]) {
      assert.throws(() => layout.resolve(bad), fails('IMAGE_OUTSIDE_STORE', { path: bad }), bad);
    }
  });

  it('never resolves any string to a path outside versions/ (property)', () => {
    const segment = fc.oneof(
      fc.constantFrom('..', '.', '', 'versions', P, V, `${V}.qcow2`, 'tmp', '/'),
      fc.string(),
    );
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 6 }), fc.boolean(), (parts, absolute) => {
        const name = (absolute ? join(layout.root, ...parts) : parts.join('/')) || '.';
        let path: string;
        try {
          path = layout.resolve(name);
        } catch (error) {
          return error instanceof LabvirtError && error.code === 'IMAGE_OUTSIDE_STORE';
        }
        return path.startsWith(`${layout.versionsDir}/`) && resolve(path) === path;
      }),
      { numRuns: 2000 },
    );
  });
});
