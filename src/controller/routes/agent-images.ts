// Image layers for hosts' agents: a sealed version's file by id, resumable (Range), with
// its sha256, for agents whose store lacks it (src/agent/image-fetcher.ts). Any enrolled
// host may fetch any version: the files hold nothing a host running VMs would not see.
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { LabvirtError } from '../../domain/errors.js';
import { isSealed } from '../../images/store-files.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Strict } from '../schemas.js';
import { requireStore } from '../services/versions.js';

const UUID = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** The first byte a `Range: bytes=N-` asks for; undefined for no (or another kind of) range. */
export function rangeStart(header: string | undefined): number | undefined {
  const match = /^bytes=(\d{1,15})-$/.exec(header?.trim() ?? '');
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

export function agentImageRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/agent/images/:versionId', {
    config: { auth: rule.agent },
    schema: {
      tags: ['agents'],
      summary:
        'A sealed version’s file for a host’s image store (Range: bytes=N- resumes; X-Labvirt-Sha256 is the whole file’s digest)',
      params: Strict({ versionId: Type.String({ pattern: UUID }) }),
      response: {
        // A stream, never serialized: the schema only documents it.
        200: binaryFile('the whole file'),
        206: binaryFile('the file from the Range’s first byte'),
        ...errors(401, 403, 404, 416, 503),
      },
    },
    handler: async (request, reply) => {
      const store = requireStore(ctx.images);
      const versionId = request.params.versionId.toLowerCase();
      const version = await ctx.db
        .selectFrom('versions')
        .select(['id', 'profile_id', 'sha256', 'size_bytes'])
        .where('id', '=', versionId)
        .executeTakeFirst();
      const notFound = () =>
        new LabvirtError('VERSION_NOT_FOUND', { profile: '?', version: versionId });
      if (version === undefined) throw notFound();
      const ref = { profileId: version.profile_id, versionId: version.id };
      const path = store.pathOf(ref);
      // Only sealed versions: a draft is still being written by its admin session.
      const size = await stat(path).then(
        async (info) => ((await isSealed(path)) && info.isFile() ? info.size : undefined),
        () => undefined,
      );
      if (size === undefined) throw notFound();
      const start = rangeStart(request.headers.range) ?? 0;
      request.log.info(
        { host: request.agentHost?.name, version: version.id, offset: start, size },
        'image layer download',
      );
      void reply
        .header('X-Labvirt-Sha256', version.sha256)
        .header('Accept-Ranges', 'bytes')
        .type('application/octet-stream');
      if (start > 0 && start >= size) {
        void reply.header('Content-Range', `bytes */${size}`);
        throw new LabvirtError('IMAGE_RANGE_INVALID', { offset: start, size });
      }
      if (start > 0) {
        void reply.code(206).header('Content-Range', `bytes ${start}-${size - 1}/${size}`);
      }
      void reply.header('Content-Length', size - start);
      return reply.send(createReadStream(path, { start }));
    },
  });
}

function binaryFile(description: string) {
  return {
    description,
    content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } },
  };
}
