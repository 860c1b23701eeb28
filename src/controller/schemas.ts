// JSON schemas shared by the routes (TypeBox: the schema is also the TypeScript type).
import { Type, type TSchema } from '@sinclair/typebox';

/** Names people type: letters, digits, space, "_", "." and "-", not starting with punctuation. */
export const Name = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[\\p{L}\\p{N}][\\p{L}\\p{N} _.-]*$',
});
/**
 * Free text: anything but NUL, which PostgreSQL cannot store in text (SQLite can, so
 * without this the same request would be a 400 on one database and a 500 on the other).
 */
const NO_NUL = '^[^\\u0000]*$';
export const Description = Type.String({ maxLength: 500, pattern: NO_NUL });
export const Username = Type.String({
  minLength: 1,
  maxLength: 64,
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.@-]*$',
});
export const Password = Type.String({ minLength: 1, maxLength: 1024, pattern: NO_NUL });
export const Mac = Type.String({
  minLength: 17,
  maxLength: 17,
  pattern: '^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$',
});
export const Role = Type.Union([
  Type.Literal('admin'),
  Type.Literal('operator'),
  Type.Literal('viewer'),
]);
export const Language = Type.Union([Type.Literal('en'), Type.Literal('es')]);
export const Timestamp = Type.String({ format: 'date-time' });
/** A path parameter naming a resource by id or name. */
export const Ref = Type.String({ minLength: 1, maxLength: 64, pattern: NO_NUL });

export function Strict<T extends Record<string, TSchema>>(properties: T) {
  return Type.Object(properties, { additionalProperties: false });
}

export function Nullable<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    field: Type.Optional(Type.String()),
    params: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        description: 'the values the message was filled in with, by name (for programs)',
      }),
    ),
    instance: Type.String(),
    requestId: Type.String(),
  },
  { $id: 'Problem', description: 'RFC 9457 problem details, with LabVirt’s stable error code' },
);

/** Standard error responses: a Problem, as application/problem+json (RFC 9457). */
export function errors(...statuses: number[]) {
  const problem = {
    description: 'RFC 9457 problem details, with LabVirt’s stable error code',
    content: { 'application/problem+json': { schema: Type.Ref('Problem') } },
  };
  return Object.fromEntries(statuses.map((status) => [status, problem]));
}
