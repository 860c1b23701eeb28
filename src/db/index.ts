// The database layer's public surface.
export * from './connect.js';
export * from './errors.js';
export * from './migrate.js';
export { migrations } from './migrations/index.js';
export type * from './schema.js';
