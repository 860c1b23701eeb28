// A profile's image: import (a path inside an import directory, or an upload streamed into
// the import area), and clones (linked, or full as a job). Admins only.
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { storeFailure } from '../../images/store-errors.js';
import { imageFormats, type ImageFormat } from '../../qemu/image/image-format.js';
import { rule } from '../auth/rules.js';
import { actorOf, type RouteContext } from '../context.js';
import { errors, Name, Ref, Strict } from '../schemas.js';
import { cloneLinked, findProfile, startFullClone } from '../services/profiles.js';
import { startImport } from '../services/version-jobs.js';
import { requireStore } from '../services/versions.js';
import { jobAnswer } from './jobs.js';

const Format = Type.Union(imageFormats.map((format) => Type.Literal(format)));
const ProfileParams = Strict({ profile: Ref });
/** What an upload may weigh at most, unless the store says otherwise. */
export const DEFAULT_UPLOAD_LIMIT = 512 * 1024 ** 3;

/**
 * Writes the request body to `file` (a new file), refusing more than `limit` bytes. On a
 * failure the rest of the body is read and dropped rather than the request destroyed, so
 * the client still gets its answer. Returns the bytes received.
 */
async function receive(body: Readable, file: string, limit: number): Promise<number> {
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  let failed: unknown;
  out.on('error', (error) => (failed ??= error));
  let bytes = 0;
  try {
    for await (const chunk of body.iterator({ destroyOnReturn: false })) {
      const buffer = chunk as Buffer;
      bytes += buffer.length;
      if (bytes > limit) throw new LabvirtError('UPLOAD_TOO_LARGE', { limit });
      if (failed !== undefined) throw failed;
      if (!out.write(buffer))
        await new Promise<void>((resolve) => {
          out.once('drain', () => resolve());
          out.once('error', () => resolve());
        });
      if (failed !== undefined) throw failed;
    }
    out.end();
    await finished(out);
    return bytes;
  } catch (error) {
    body.resume();
    // Wait for the file to be closed: a write stream destroyed before its asynchronous open
    // finished would otherwise create the file after the caller has removed it.
    out.destroy();
    if (!out.closed) await once(out, 'close');
    throw error;
  }
}

export function profileImageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['profiles'];
  const uploadLimit = () => ctx.images?.uploadLimit ?? DEFAULT_UPLOAD_LIMIT;

  r.post('/profiles/:profile/import', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary: 'Import a disk image from an import directory as the profile’s next version (a job)',
      params: ProfileParams,
      body: Strict({
        path: Type.String({ minLength: 1, maxLength: 4096, pattern: '^[^\\u0000]*$' }),
        format: Type.Optional(Format),
      }),
      response: { 202: Type.Ref('Job'), ...errors(400, 401, 403, 404, 503) },
    },
    handler: async (request, reply) => {
      const id = await startImport(
        ctx,
        actorOf(request),
        request.params.profile,
        request.body.path,
        {
          format: request.body.format,
        },
      );
      return reply.code(202).send(jobAnswer(ctx, request, id));
    },
  });

  // The upload has a body parser of its own (a stream, never buffered), in its own scope
  // so every other route still takes JSON only, within the 1 MiB limit.
  void app.register(async (scope) => {
    scope.addContentTypeParser('application/octet-stream', (_request, payload, done) =>
      done(null, payload),
    );
    scope.withTypeProvider<TypeBoxTypeProvider>().put('/profiles/:profile/upload', {
      config: { auth: rule.admin },
      schema: {
        tags,
        summary:
          'Upload a disk image (application/octet-stream) and import it as the profile’s next version (a job)',
        params: ProfileParams,
        querystring: Strict({
          format: Type.Optional(Format),
          /** The uploaded file's name, for messages about it. */
          name: Type.Optional(
            Type.String({ minLength: 1, maxLength: 255, pattern: '^[^\\u0000]*$' }),
          ),
        }),
        response: { 202: Type.Ref('Job'), ...errors(400, 401, 403, 404, 413, 415, 503, 507) },
      },
      handler: async (request, reply) => {
        await findProfile(ctx.db, request.params.profile);
        const images = requireStore(ctx.images);
        const body = request.body as Readable | undefined;
        if (body === undefined || typeof (body as Readable).pipe !== 'function')
          throw new LabvirtError('MEDIA_TYPE_UNSUPPORTED');
        const limit = uploadLimit();
        const declared = Number(request.headers['content-length'] ?? NaN);
        if (declared > limit) throw new LabvirtError('UPLOAD_TOO_LARGE', { limit });
        const dir = images.uploadDir;
        if (dir === undefined) throw new LabvirtError('IMPORT_SOURCE_OUTSIDE', { path: 'upload' });
        await mkdir(dir, { recursive: true, mode: 0o700 });
        const file = join(dir, `${randomUUID()}.upload`);
        const seen = { bytes: 0 };
        const cleanup = () => rm(file, { force: true });
        try {
          seen.bytes = await receive(body, file, limit);
          if (Number.isFinite(declared) && seen.bytes !== declared)
            throw new LabvirtError('UPLOAD_INCOMPLETE', {
              received: seen.bytes,
              expected: declared,
            });
        } catch (error) {
          await cleanup();
          void reply.header('connection', 'close');
          if (error instanceof LabvirtError) throw error;
          const mapped = storeFailure(error, { root: dir, operation: 'upload', path: file });
          if (mapped instanceof LabvirtError) throw mapped;
          throw new LabvirtError(
            'UPLOAD_INCOMPLETE',
            { received: seen.bytes, expected: declared || 0 },
            { cause: error },
          );
        }
        try {
          const id = await startImport(ctx, actorOf(request), request.params.profile, file, {
            format: request.query.format as ImageFormat | undefined,
            cleanup,
            sourceName: request.query.name ?? 'upload',
          });
          return await reply.code(202).send(jobAnswer(ctx, request, id));
        } catch (error) {
          await cleanup();
          throw error;
        }
      },
    });
  });

  r.post('/profiles/:profile/clone', {
    config: { auth: rule.admin },
    schema: {
      tags,
      summary:
        'Clone a profile: linked (a layer on its published version, at once: 201) or full (an independent copy, a job: 202)',
      params: ProfileParams,
      body: Strict({
        name: Name,
        mode: Type.Optional(Type.Union([Type.Literal('linked'), Type.Literal('full')])),
      }),
      response: {
        201: Type.Object({ profile: Type.Ref('Profile'), version: Type.Ref('Version') }),
        202: Type.Ref('Job'),
        ...errors(400, 401, 403, 404, 409, 503, 507),
      },
    },
    handler: async (request, reply) => {
      const actor = actorOf(request);
      if (request.body.mode === 'full') {
        const id = await startFullClone(ctx, actor, request.params.profile, request.body.name);
        return reply.code(202).send(jobAnswer(ctx, request, id));
      }
      const made = await cloneLinked(ctx, actor, request.params.profile, request.body.name);
      return reply.code(201).send({ profile: made.profile, version: made.version });
    },
  });
}
