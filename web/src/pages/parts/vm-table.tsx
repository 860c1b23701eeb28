// A table of VMs: name (and kind when admin), state, profile, host, terminal and who is
// connected, actions.
import { useI18n } from '../../i18n';
import { Link } from '../../router';
import type { Terminal, Vm } from '../../types';
import { ConnectionsSummary } from './connections';
import { KindLabel, VmStateLabel } from './states';
import { Cell, Row, Table } from './table';
import { VmActions, vmPath } from './vm-actions';

interface Props {
  vms: readonly Vm[];
  label: string;
  /** To name a VM's terminal and lab (else its MAC is shown). */
  terminals: readonly Terminal[] | undefined;
  /** Without the host column (a host's own page). */
  hostColumn?: boolean;
}

/** A time as short text: only the time of day when it is today. */
export function useShortDate(): (iso: string) => string {
  const { locale } = useI18n();
  return (iso) => {
    const date = new Date(iso);
    const today = date.toDateString() === new Date().toDateString();
    return new Intl.DateTimeFormat(
      locale,
      today ? { timeStyle: 'short' } : { dateStyle: 'short', timeStyle: 'short' },
    ).format(date);
  };
}

export function VmTable({ vms, label, terminals, hostColumn = true }: Props) {
  const { t } = useI18n();
  const formatDate = useShortDate();
  const terminalOf = (mac: string) => terminals?.find((terminal) => terminal.mac === mac);
  return (
    <Table
      label={label}
      columns={[
        t('Name'),
        t('State'),
        t('Profile'),
        ...(hostColumn ? [t('Host')] : []),
        t('Terminal'),
        t('Started'),
        '',
      ]}
    >
      {vms.map((vm) => {
        const terminal = vm.terminal === null ? undefined : terminalOf(vm.terminal);
        return (
          <Row key={vm.id}>
            <Cell header>
              <Link to={vmPath(vm)}>{vm.name}</Link>
              {vm.kind === 'admin' && (
                <>
                  {' '}
                  <KindLabel kind={vm.kind} />
                </>
              )}
            </Cell>
            <Cell>
              <VmStateLabel state={vm.state} />
            </Cell>
            <Cell>
              {vm.profileId !== null ? (
                <Link to={`/profiles/${encodeURIComponent(vm.profileId)}`}>{vm.profile ?? ''}</Link>
              ) : (
                '—'
              )}
            </Cell>
            {hostColumn && (
              <Cell>
                {vm.host !== null ? (
                  <Link to={`/hosts/${encodeURIComponent(vm.host)}`}>{vm.host}</Link>
                ) : (
                  '—'
                )}
              </Cell>
            )}
            <Cell>
              {terminal !== undefined
                ? terminal.lab !== null
                  ? t('{terminal} in {lab}', { terminal: terminal.name, lab: terminal.lab })
                  : terminal.name
                : (vm.terminal ?? (vm.connections.length === 0 ? '—' : ''))}{' '}
              <ConnectionsSummary vm={vm} />
            </Cell>
            <Cell>{formatDate(vm.createdAt)}</Cell>
            <Cell actions>
              <VmActions vm={vm} />
            </Cell>
          </Row>
        );
      })}
    </Table>
  );
}
