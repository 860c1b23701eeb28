// Each VM's use on a host at its latest sample (its QEMU's CPU and resident memory), the
// busiest first; a VM the console lists links to its page.
import { useI18n } from '../../i18n';
import { Link } from '../../router';
import type { Vm, VmUsage } from '../../types';
import { Empty } from '../common/empty';
import { Cell, Row, Table } from './table';
import { vmPath } from './vm-actions';

interface Props {
  usage: readonly VmUsage[] | undefined;
  /** The host's VMs the console knows, to link each name to its page. */
  vms: readonly Vm[];
  label: string;
}

export function VmUsageTable({ usage, vms, label }: Props) {
  const { t, formatNumber } = useI18n();
  if (usage === undefined || usage.length === 0) return <Empty title={t('No samples yet.')} />;
  const byName = new Map(vms.map((vm) => [vm.name, vm]));
  const rows = [...usage].sort(
    (a, b) => b.cpuPercent - a.cpuPercent || a.name.localeCompare(b.name),
  );
  return (
    <Table label={label} columns={[t('VM'), t('CPU'), t('Memory')]}>
      {rows.map((use) => {
        const vm = byName.get(use.name);
        return (
          <Row key={use.name}>
            <Cell header>
              {vm === undefined ? use.name : <Link to={vmPath(vm)}>{use.name}</Link>}
            </Cell>
            <Cell>
              {t('{percent} %', {
                percent: formatNumber(use.cpuPercent, { maximumFractionDigits: 1 }),
              })}
            </Cell>
            <Cell>{t('{amount} MiB', { amount: formatNumber(use.memoryMiB) })}</Cell>
          </Row>
        );
      })}
    </Table>
  );
}
