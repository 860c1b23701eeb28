// The dashboard's hosts: state, CPU/memory/disk use (live from `metrics` events) and
// their active VMs.
import { useState } from 'react';
import { Card, CardBody, CardTitle } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import { useLiveEvent } from '../../live';
import { Link, pathTo } from '../../router';
import type { Host, HostUsage, Vm } from '../../types';
import { Empty, Loading } from '../common/empty';
import { HostStateLabel } from '../parts/states';
import { Cell, Row, Table } from '../parts/table';
import { UsageBar } from '../common/usage-bar';
import { percent, useGiB } from '../parts/usage';

export function DashboardHosts({ hosts, vms }: { hosts: Host[] | undefined; vms: Vm[] }) {
  const { t, formatNumber } = useI18n();
  const gib = useGiB();
  const [samples, setSamples] = useState<ReadonlyMap<string, HostUsage>>(new Map());
  useLiveEvent('metrics', (event) =>
    setSamples((current) => new Map(current).set(event.host, event.sample)),
  );
  return (
    <Card>
      <CardTitle component="h2">{t('Hosts')}</CardTitle>
      <CardBody>
        {hosts === undefined ? (
          <Loading />
        ) : hosts.length === 0 ? (
          <Empty title={t('No hosts')} />
        ) : (
          <Table
            label={t('Hosts')}
            columns={[t('Host'), t('State'), t('VMs'), t('CPU'), t('Memory'), t('Disk')]}
          >
            {hosts.map((host) => {
              const usage = samples.get(host.id) ?? host.usage;
              const count = vms.filter((vm) => vm.host === host.name || vm.host === host.id);
              return (
                <Row key={host.id}>
                  <Cell header>
                    <Link to={pathTo('/hosts', host.id)}>{host.name}</Link>
                  </Cell>
                  <Cell>
                    <HostStateLabel state={host.state} />
                  </Cell>
                  <Cell>{formatNumber(count.length)}</Cell>
                  {!usage ? (
                    <>
                      <Cell>—</Cell>
                      <Cell>—</Cell>
                      <Cell>—</Cell>
                    </>
                  ) : (
                    <>
                      <Cell>
                        <UsageBar
                          label={t('CPU use of {host}', { host: host.name })}
                          value={usage.cpuPercent}
                          text={t('{percent} %', {
                            percent: formatNumber(Math.round(usage.cpuPercent)),
                          })}
                        />
                      </Cell>
                      <Cell>
                        <UsageBar
                          label={t('Memory use of {host}', { host: host.name })}
                          value={percent(usage.memoryUsedMiB, usage.memoryTotalMiB)}
                          text={t('{used} of {total}', {
                            used: gib(usage.memoryUsedMiB),
                            total: gib(usage.memoryTotalMiB),
                          })}
                        />
                      </Cell>
                      <Cell>
                        <UsageBar
                          label={t('Disk use of {host}', { host: host.name })}
                          value={percent(usage.diskUsedMiB, usage.diskTotalMiB)}
                          text={t('{used} of {total}', {
                            used: gib(usage.diskUsedMiB),
                            total: gib(usage.diskTotalMiB),
                          })}
                        />
                      </Cell>
                    </>
                  )}
                </Row>
              );
            })}
          </Table>
        )}
      </CardBody>
    </Card>
  );
}
