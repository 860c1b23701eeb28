// Bad input derived from a route's own JSON schema: for every property, a value of the
// wrong type, one too long or too short, out of range, not among the choices, not matching
// the pattern; plus an unknown field and each required field left out. Each case says which
// error code and field the API must answer with.

/** The subset of JSON Schema the routes use (TypeBox output). */
export interface JsonSchema {
  readonly type?: string;
  readonly anyOf?: readonly JsonSchema[];
  readonly const?: unknown;
  readonly enum?: readonly unknown[];
  readonly properties?: Readonly<Record<string, JsonSchema>>;
  readonly required?: readonly string[];
  readonly additionalProperties?: boolean;
  readonly maxLength?: number;
  readonly minLength?: number;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly maxItems?: number;
  readonly pattern?: string;
  readonly items?: JsonSchema;
}

export interface BadInputCase {
  readonly name: string;
  readonly value: Record<string, unknown>;
  readonly code: string;
  readonly field: string;
  /** Words the message must contain (e.g. every allowed choice). */
  readonly mentions?: readonly string[];
}

/** A schema and the alternatives of its unions, flattened. */
function branches(schema: JsonSchema): JsonSchema[] {
  return schema.anyOf ? schema.anyOf.flatMap(branches) : [schema];
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function accepts(schema: JsonSchema, value: unknown): boolean {
  const type = jsonType(value);
  return branches(schema).some(
    (branch) => branch.type === type || (branch.type === 'number' && type === 'integer'),
  );
}

/** Bad values for one property, with the code they must be refused with. */
function badValues(
  schema: JsonSchema,
): { what: string; value: unknown; code: string; mentions?: string[] }[] {
  const cases: { what: string; value: unknown; code: string; mentions?: string[] }[] = [];
  const wrongType = [42.5, 'text', true, ['x'], { nested: 1 }].find(
    (value) => !accepts(schema, value),
  );
  if (wrongType !== undefined)
    cases.push({ what: 'wrong type', value: wrongType, code: 'FIELD_TYPE' });
  const choices = branches(schema).flatMap((branch) =>
    branch.const !== undefined ? [branch.const] : (branch.enum ?? []),
  );
  if (choices.length > 0)
    cases.push({
      what: 'not a choice',
      value: 'not-a-choice',
      code: 'FIELD_NOT_ALLOWED',
      mentions: choices.map(String),
    });
  for (const branch of branches(schema)) {
    if (branch.type === 'string' && branch.const === undefined && branch.enum === undefined) {
      if (branch.maxLength !== undefined)
        cases.push({
          what: 'too long',
          value: 'a'.repeat(branch.maxLength + 1),
          code: 'FIELD_TOO_LONG',
        });
      if (branch.minLength !== undefined && branch.minLength > 0)
        cases.push({
          what: 'too short',
          value: 'a'.repeat(branch.minLength - 1),
          code: 'FIELD_TOO_SHORT',
        });
      if (branch.pattern !== undefined) {
        const pattern = new RegExp(branch.pattern, 'u');
        const length = Math.max(branch.minLength ?? 1, 1);
        const value = ['!', '\u0000', ' ']
          .map((char) => char.repeat(length))
          .find((candidate) => !pattern.test(candidate));
        if (value === undefined) throw new Error(`no value found against /${branch.pattern}/`);
        cases.push({ what: 'not matching the pattern', value, code: 'FIELD_INVALID' });
      }
    }
    if (branch.type === 'integer' || branch.type === 'number') {
      if (branch.maximum !== undefined)
        cases.push({ what: 'too large', value: branch.maximum + 1, code: 'FIELD_TOO_LARGE' });
      if (branch.minimum !== undefined)
        cases.push({ what: 'too small', value: branch.minimum - 1, code: 'FIELD_TOO_SMALL' });
    }
    if (branch.type === 'array' && branch.maxItems !== undefined)
      cases.push({
        what: 'too many items',
        value: Array.from({ length: branch.maxItems + 1 }, (_, index) => `item${index}`),
        code: 'FIELD_TOO_MANY',
      });
  }
  return cases;
}

/**
 * Bad variants of a valid object `base` for an object schema; `prefix` names where the
 * object is ('' for the body, 'query.' for the query string).
 */
export function badInputs(
  schema: JsonSchema,
  base: Readonly<Record<string, unknown>>,
  prefix = '',
): BadInputCase[] {
  const cases: BadInputCase[] = [];
  if (schema.additionalProperties === false)
    cases.push({
      name: 'an unknown field',
      value: { ...base, unexpected: 'x' },
      code: 'FIELD_UNKNOWN',
      field: `${prefix}unexpected`,
    });
  for (const name of schema.required ?? []) {
    const value = Object.fromEntries(Object.entries(base).filter(([key]) => key !== name));
    cases.push({
      name: `${name} left out`,
      value,
      code: 'FIELD_REQUIRED',
      field: `${prefix}${name}`,
    });
  }
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    for (const bad of badValues(property)) {
      cases.push({
        name: `${name} ${bad.what}`,
        value: { ...base, [name]: bad.value },
        code: bad.code,
        field: `${prefix}${name}`,
        ...(bad.mentions ? { mentions: bad.mentions } : {}),
      });
    }
  }
  return cases;
}

/** A valid value for each required field the routes have, by name. */
export const validFields: Readonly<Record<string, unknown>> = {
  username: 'someone',
  password: 'a long enough password',
  name: 'Valid name',
  mac: '52:54:00:12:34:56',
  lab: 'lab-mine',
  role: 'viewer',
  language: 'es',
  path: 'disk.img',
  version: '1',
  profile: 'profile-one',
  // Lists that replace a lab's settings: empty is valid.
  profiles: [],
  slots: [],
  subnets: [],
  // A lab's address pool: none (a valid value that sets nothing up).
  pool: null,
  // A sign-in link's token (POST /auth/link): any string is well-formed.
  token: 'some-link-token',
  // An agent's join (POST /agent/join): its URL and certificate.
  url: 'https://127.0.0.1:8445',
  certificate: 'a PEM certificate',
};

/** The smallest valid object for a schema: its required fields, from validFields. */
export function minimalValid(schema: JsonSchema): Record<string, unknown> {
  return Object.fromEntries(
    (schema.required ?? []).map((name) => {
      if (!(name in validFields)) throw new Error(`no valid value known for field "${name}"`);
      return [name, validFields[name]];
    }),
  );
}
