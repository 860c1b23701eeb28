// `labvirt agent`: a host's agent, serving the agent API to the controllers (issue 8).
import { Command } from 'commander';
import type { CliContext } from '../context.js';

export function agentCommand(ctx: CliContext): Command {
  // Built by the agent helper: see /work/notes/issue8-contracts.md §1–2.
  return new Command('agent').description(
    ctx.tr.t('run this host’s agent for a LabVirt controller'),
  );
}
