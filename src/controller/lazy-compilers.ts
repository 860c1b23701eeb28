// Fastify compiles every route's request validators and response serializers when the app
// starts. With ~90 routes, each documenting its problem+json answers, that was most of
// `labvirt server`'s start-up time. These factories wrap Fastify's own compilers (same
// options, same shared schemas) so each schema is compiled on its first use instead.
import AjvCompiler from '@fastify/ajv-compiler';
import SerializerSelector from '@fastify/fast-json-stringify-compiler';

type Validate = ((data: unknown) => unknown) & { errors?: unknown };
type Serialize = (data: unknown) => string;

/** Compiles on the first call, then reuses; the compiled function's `errors` are passed on. */
function lazyValidator(compile: () => Validate): Validate {
  let compiled: Validate | undefined;
  const validate: Validate = (data) => {
    compiled ??= compile();
    const result = compiled(data);
    validate.errors = compiled.errors;
    return result;
  };
  return validate;
}

function lazySerializer(compile: () => Serialize): Serialize {
  let compiled: Serialize | undefined;
  return (data) => (compiled ??= compile())(data);
}

const buildAjv = AjvCompiler();
const buildFastJson = SerializerSelector();

/** For Fastify's `schemaController.compilersFactory` option. */
export const lazyCompilersFactory = {
  buildValidator: ((...args: Parameters<typeof buildAjv>) => {
    const compiler = buildAjv(...args);
    // Fastify only calls the function and reads its `errors`, which the wrapper keeps.
    return ((route: Parameters<typeof compiler>[0]) =>
      lazyValidator(() => compiler(route) as unknown as Validate)) as unknown as typeof compiler;
  }) as typeof buildAjv,
  buildSerializer: ((...args: Parameters<typeof buildFastJson>) => {
    const compiler = buildFastJson(...args);
    return (route: Parameters<typeof compiler>[0]) =>
      lazySerializer(() => compiler(route) as Serialize);
  }) as typeof buildFastJson,
};
