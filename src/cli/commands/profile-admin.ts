// `labvirt profile admin NAME open|status|publish|discard`, over the API: admin sessions.
import { Command } from 'commander';
import { LabvirtError } from '../../domain/errors.js';
import { apiCommand, clientFor, printJson, segment, type ApiFlags } from '../api-command.js';
import { LONG_REQUEST } from '../api-client.js';
import type { CliContext } from '../context.js';
import { formatFields } from '../table.js';
import type { VmView } from './vm.js';

interface AdminSessionView {
  readonly id: string;
  readonly profile: string;
  readonly policy: string;
  readonly baseVersionId: string;
  readonly draftId: string;
  readonly vm: VmView | null;
  readonly openedBy: string | null;
  readonly openedAt: string;
}

interface AdminFlags extends ApiFlags {
  readonly exclusive?: boolean;
  readonly force?: boolean;
  readonly note?: string;
}

const actions = ['open', 'status', 'boot', 'publish', 'discard'] as const;

export function profileAdminCommand(ctx: CliContext): Command {
  const { tr, io } = ctx;
  const session = (view: AdminSessionView) =>
    formatFields([
      [tr.t('Profile'), view.profile],
      [tr.t('Policy'), view.policy],
      [tr.t('Based on version'), view.baseVersionId],
      [tr.t('Draft'), view.draftId],
      [tr.t('Admin VM'), view.vm?.name],
      [tr.t('Admin VM state'), view.vm?.state],
      [tr.t('Opened'), view.openedAt],
    ]);
  return apiCommand(
    'admin',
    tr.t('admin sessions: open (boot a writable draft), status, boot (again), publish, discard'),
    ctx,
  )
    .argument('<PROFILE>', tr.t('the profile (name or id)'))
    .argument('<ACTION>', tr.t('open, status, boot, publish or discard'))
    .option('--exclusive', tr.t('open: no client VM of the profile runs while the session is open'))
    .option(
      '--force',
      tr.t(
        'open --exclusive: shut running client VMs down first; discard: stop the admin VM first',
      ),
    )
    .option('--note <TEXT>', tr.t('publish: a note for the new version'))
    .action(async (profile: string, action: string, flags: AdminFlags) => {
      if (!(actions as readonly string[]).includes(action)) {
        throw new LabvirtError('USAGE_UNKNOWN_COMMAND', { command: action });
      }
      const client = await clientFor(flags, ctx);
      const path = `/profiles/${segment(profile)}/admin-session`;
      switch (action) {
        case 'open': {
          const body = {
            ...(flags.exclusive ? { exclusive: true } : {}),
            ...(flags.force ? { force: true } : {}),
          };
          const view = await client.request<AdminSessionView>('POST', path, body, LONG_REQUEST);
          return flags.json ? printJson(ctx, view) : io.out(session(view));
        }
        case 'status': {
          const view = await client.request<AdminSessionView>('GET', path);
          return flags.json ? printJson(ctx, view) : io.out(session(view));
        }
        case 'boot': {
          const view = await client.request<AdminSessionView>(
            'POST',
            `${path}/boot`,
            undefined,
            LONG_REQUEST,
          );
          return flags.json ? printJson(ctx, view) : io.out(session(view));
        }
        case 'publish': {
          const result = await client.request<{ versionId: string; number: number }>(
            'POST',
            `${path}/publish`,
            flags.note === undefined ? {} : { note: flags.note },
          );
          if (flags.json) return printJson(ctx, result);
          return io.out(
            `${tr.t('Published version {number} ({id}).', { number: result.number, id: result.versionId })}\n`,
          );
        }
        default: {
          await client.request('POST', `${path}/discard`, flags.force ? { force: true } : {});
          if (flags.json) return printJson(ctx, { discarded: true });
          return io.out(`${tr.t('The draft is discarded.')}\n`);
        }
      }
    });
}
