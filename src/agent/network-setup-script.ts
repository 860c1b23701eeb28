// A network set-up plan as a shell-like script with comments, for a person to read and
// copy. LabVirt prints it and never runs it: --apply carries out the plan itself.
import type { Phrase } from '../domain/errors.js';
import { shellJoin, shellQuote } from '../qemu/cmdline/shell-quote.js';
import type { SetupPlan, SetupStep } from './network-setup.js';

/** Turns a Phrase into text in the reader's language. */
export type Say = (phrase: Phrase) => string;

const mode = (value: number) => value.toString(8).padStart(4, '0');

function stepLines(step: SetupStep): string[] {
  switch (step.kind) {
    case 'command':
      return [shellJoin(step.argv)];
    case 'line': {
      const path = shellQuote(step.path);
      const line = shellQuote(step.line);
      return [
        `mkdir -p ${shellQuote(step.path.replace(/\/[^/]*$/, '') || '/')}`,
        `grep -qxF ${line} ${path} 2>/dev/null || echo ${line} >> ${path}`,
        `chmod ${mode(step.mode)} ${path}`,
      ];
    }
    case 'file': {
      const path = shellQuote(step.path);
      const written = step.verify === undefined ? path : shellQuote(`${step.path}.new`);
      const lines = [
        `mkdir -p ${shellQuote(step.path.replace(/\/[^/]*$/, '') || '/')}`,
        `cat > ${written} <<'LABVIRT_EOF'`,
        ...step.content.replace(/\n$/, '').split('\n'),
        'LABVIRT_EOF',
        `chmod ${mode(step.mode)} ${written}`,
      ];
      if (step.verify !== undefined) {
        lines.push(`${shellJoin([...step.verify, `${step.path}.new`])} && mv ${written} ${path}`);
      }
      return lines;
    }
  }
}

const comment = (text: string) => `# ${text.split('\n').join(' ')}`;

export function renderScript(plan: SetupPlan, say: Say, header: readonly string[]): string {
  const out = ['#!/bin/sh', ...header.map(comment)];
  for (const warning of plan.warnings) out.push(comment(`WARNING: ${say(warning)}`));
  for (const step of plan.steps) out.push('', comment(say(step.why)), ...stepLines(step));
  if (plan.notes.length > 0) out.push('');
  for (const note of plan.notes) out.push(comment(say(note)));
  return `${out.join('\n')}\n`;
}
