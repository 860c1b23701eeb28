// Who is connected to a VM: a count for tables, a table (peer, via, since) for its page.
import { Label } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import type { Vm } from '../../types';
import { Cell, Row, Table } from './table';

export function ConnectionsSummary({ vm }: { vm: Vm }) {
  const { tn } = useI18n();
  const count = vm.connections.length;
  if (count === 0) return null;
  return (
    <Label color="teal" isCompact>
      {tn('{count} connected', '{count} connected', count, { count })}
    </Label>
  );
}

export function ConnectionsTable({ vm }: { vm: Vm }) {
  const { t, formatDate, formatNumber } = useI18n();
  const via = (how: string) =>
    how === 'gateway'
      ? t('gateway')
      : how === 'display'
        ? t('display')
        : how === 'conntrack'
          ? t('connection tracking')
          : how;
  if (vm.connections.length === 0) return <p>{t('Nobody is connected.')}</p>;
  return (
    <Table
      label={t('Connections')}
      columns={[t('Peer'), t('Via'), t('Since'), t('Received'), t('Sent')]}
    >
      {vm.connections.map((connection) => (
        <Row key={`${connection.peer} ${connection.via}`}>
          <Cell header>{connection.peer}</Cell>
          <Cell>{via(connection.via)}</Cell>
          <Cell>{formatDate(connection.since)}</Cell>
          <Cell>
            {connection.bytesIn !== undefined
              ? t('{bytes} bytes', { bytes: formatNumber(connection.bytesIn) })
              : '—'}
          </Cell>
          <Cell>
            {connection.bytesOut !== undefined
              ? t('{bytes} bytes', { bytes: formatNumber(connection.bytesOut) })
              : '—'}
          </Cell>
        </Row>
      ))}
    </Table>
  );
}
