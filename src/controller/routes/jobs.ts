// GET /jobs and /jobs/:job: long operations and their progress (see services/jobs.ts).
import { Type } from '@sinclair/typebox';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { errorStatus, LabvirtError } from '../../domain/errors.js';
import { translateError } from '../../i18n/translator.js';
import { rule } from '../auth/rules.js';
import type { RouteContext } from '../context.js';
import { errors, Nullable, Ref, Strict } from '../schemas.js';
import type { JobView } from '../services/jobs.js';

export const JobSchema = Type.Object(
  {
    id: Type.String(),
    kind: Type.String(),
    state: Type.Union([Type.Literal('running'), Type.Literal('succeeded'), Type.Literal('failed')]),
    progress: Type.Number(),
    targetType: Type.String(),
    targetId: Type.String(),
    target: Type.String(),
    startedBy: Nullable(Type.String()),
    startedAt: Type.String(),
    finishedAt: Nullable(Type.String()),
    error: Nullable(
      Type.Object({ code: Type.String(), status: Type.Integer(), detail: Type.String() }),
    ),
    result: Type.Unknown(),
  },
  { $id: 'Job' },
);

/** A job as the caller sees it: its error in the caller's language. */
export function jobAnswer(ctx: RouteContext, request: FastifyRequest, id: string) {
  const view: JobView | undefined = ctx.jobs.get(id);
  if (view === undefined) throw new LabvirtError('JOB_NOT_FOUND', { job: id });
  const error = ctx.jobs.errorOf(id);
  return {
    ...view,
    error:
      error === null
        ? null
        : {
            code: error.code,
            status: errorStatus(error.code),
            detail: translateError(error, request.translator()),
          },
  };
}

export function jobRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.addSchema(JobSchema);
  const tags = ['jobs'];

  // Every job's target today is a profile, which every role may see; a job about
  // something narrower will need filtering here.
  r.get('/jobs', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'List long operations (imports, flattens, full clones), newest first',
      response: { 200: Type.Array(Type.Ref('Job')), ...errors(401) },
    },
    handler: async (request) => ctx.jobs.list().map((job) => jobAnswer(ctx, request, job.id)),
  });

  r.get('/jobs/:job', {
    config: { auth: rule.viewer },
    schema: {
      tags,
      summary: 'Show a job: its state, progress, error or result',
      params: Strict({ job: Ref }),
      response: { 200: Type.Ref('Job'), ...errors(401, 404) },
    },
    handler: async (request) => jobAnswer(ctx, request, request.params.job),
  });
}
