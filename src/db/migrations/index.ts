// Every migration, by name (applied in name order). A static list rather than a folder
// scan, so it works the same from src/ under a loader and from the compiled dist/.
// Add new migrations here; never edit or rename one that has been released.
import type { Migration, MigrationProvider } from 'kysely';
import * as initial from './0001-initial.js';
import * as profileDataDisks from './0002-profile-data-disks.js';
import * as terminals from './0003-terminals.js';
import * as networking from './0004-networking.js';
import * as cluster from './0005-cluster.js';

export const migrations: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-profile-data-disks': profileDataDisks,
  '0003-terminals': terminals,
  '0004-networking': networking,
  '0005-cluster': cluster,
};

export function migrationProvider(
  all: Readonly<Record<string, Migration>> = migrations,
): MigrationProvider {
  return { getMigrations: () => Promise.resolve({ ...all }) };
}
