// The terminal endpoint's hot query, compiled once per shape and run with new values:
// Kysely takes longer to build and compile a joined select (about 100 µs) than SQLite
// takes to run it. The values are strings (MACs, an address); the query is built with
// placeholders no MAC or address can be, which running it replaces by the values.
import type { Compilable, CompiledQuery, Kysely } from 'kysely';

const SLOT = '\u0000slot:';

export class PrecompiledQuery<DB, Row> {
  readonly #build: (db: Kysely<DB>, values: readonly string[]) => Compilable<Row>;
  /** Per database (its dialect's SQL) and number of values. */
  readonly #compiled = new WeakMap<Kysely<DB>, Map<number, CompiledQuery<Row>>>();

  constructor(build: (db: Kysely<DB>, values: readonly string[]) => Compilable<Row>) {
    this.#build = build;
  }

  async execute(db: Kysely<DB>, values: readonly string[]): Promise<Row[]> {
    let shapes = this.#compiled.get(db);
    if (shapes === undefined) this.#compiled.set(db, (shapes = new Map()));
    let compiled = shapes.get(values.length);
    if (compiled === undefined) {
      const slots = values.map((_, index) => `${SLOT}${index}`);
      compiled = this.#build(db, slots).compile();
      // Every value must be exactly one parameter, and none may have become SQL text, else
      // a placeholder would be run instead of its value.
      const used = compiled.parameters.filter(isSlot).map((p) => Number(p.slice(SLOT.length)));
      const each = used.length === values.length && used.every((n, i) => used.indexOf(n) === i);
      if (!each || compiled.sql.includes(SLOT))
        throw new Error('a precompiled query must pass each value as one parameter');
      shapes.set(values.length, compiled);
    }
    const parameters = compiled.parameters.map((p) =>
      isSlot(p) ? values[Number(p.slice(SLOT.length))] : p,
    );
    return (await db.executeQuery<Row>({ ...compiled, parameters })).rows;
  }
}

function isSlot(parameter: unknown): parameter is string {
  return typeof parameter === 'string' && parameter.startsWith(SLOT);
}
