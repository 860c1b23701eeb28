// /hosts/:id: a host's details, its resource use over the last hour (live), its VMs and a
// link to its outside monitoring page.
import { useEffect, useState } from 'react';
import {
  Breadcrumb,
  BreadcrumbItem,
  Button,
  Card,
  CardBody,
  CardTitle,
  Grid,
  GridItem,
  PageSection,
} from '@patternfly/react-core';
import ExternalLinkAltIcon from '@patternfly/react-icons/dist/esm/icons/external-link-alt-icon';
import { LineChart } from '../components/line-chart';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useLiveEvent, useResource } from '../live';
import { Link, useRoute } from '../router';
import type { Host, HostMetrics, HostUsage, Terminal } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { percent } from './parts/usage';
import { HostStateLabel, isActive } from './parts/states';
import { useVms } from './parts/use-vms';
import { VmTable } from './parts/vm-table';

/** An hour of samples at most, as the server keeps. */
const KEEP = 360;

export function HostPage() {
  const { t, formatNumber } = useI18n();
  const { params } = useRoute();
  const id = params['id'] ?? '';
  const host = useResource<Host>(`/hosts/${encodeURIComponent(id)}`, ['hosts']);
  const metrics = useResource<HostMetrics>(`/hosts/${encodeURIComponent(id)}/metrics`, []);
  const [samples, setSamples] = useState<HostUsage[]>([]);
  useEffect(() => setSamples(metrics.data?.samples ?? []), [metrics.data]);
  useLiveEvent('metrics', (event) => {
    if (event.host === host.data?.id || event.host === id)
      setSamples((list) => [...list, event.sample].slice(-KEEP));
  });
  const { vms } = useVms('/vms?state=active');
  const terminals = useResource<Terminal[]>('/terminals', ['terminals']);
  const name = host.data?.name ?? id;
  const mine = (vms ?? []).filter((vm) => vm.host === name && isActive(vm.state));
  const pct = (value: number) => t('{percent} %', { percent: formatNumber(Math.round(value)) });
  const monitoring = host.data?.monitoringUrl ?? null;

  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/hosts">{t('Hosts')}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{name}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageTitle
        title={name}
        subtitle={
          host.data !== undefined ? (
            <>
              <HostStateLabel state={host.data.state} /> {host.data.address}
            </>
          ) : undefined
        }
        actions={
          monitoring !== null && /^https?:\/\//i.test(monitoring) ? (
            <Button
              component="a"
              href={monitoring}
              target="_blank"
              rel="noopener noreferrer"
              variant="secondary"
              icon={<ExternalLinkAltIcon />}
              iconPosition="end"
            >
              {t('Monitoring page')}
              <span className="pf-v6-screen-reader"> {t('(opens in a new tab)')}</span>
            </Button>
          ) : undefined
        }
      />
      <PageSection>
        <ProblemAlert error={host.error} />
        {host.loading && <Loading />}
        {host.data !== undefined && (
          <Grid hasGutter>
            {[
              {
                label: t('CPU'),
                title: t('CPU use of {host}', { host: name }),
                value: (s: HostUsage) => s.cpuPercent,
              },
              {
                label: t('Memory'),
                title: t('Memory use of {host}', { host: name }),
                value: (s: HostUsage) => percent(s.memoryUsedMiB, s.memoryTotalMiB),
              },
              {
                label: t('Disk'),
                title: t('Disk use of {host}', { host: name }),
                value: (s: HostUsage) => percent(s.diskUsedMiB, s.diskTotalMiB),
              },
            ].map((chart) => (
              <GridItem lg={4} md={6} key={chart.label}>
                <Card isCompact>
                  <CardTitle>{chart.label}</CardTitle>
                  <CardBody>
                    <LineChart
                      title={chart.title}
                      points={samples.map((s) => ({ at: s.at, value: chart.value(s) }))}
                      max={100}
                      format={pct}
                    />
                  </CardBody>
                </Card>
              </GridItem>
            ))}
            <GridItem span={12}>
              <ProblemAlert error={metrics.error} />
              <Card isCompact>
                <CardTitle>{t('Active VMs')}</CardTitle>
                <CardBody>
                  {mine.length === 0 ? (
                    <Empty title={t('No VMs run on this host')} />
                  ) : (
                    <VmTable
                      vms={mine}
                      label={t('VMs on {host}', { host: name })}
                      terminals={terminals.data}
                      hostColumn={false}
                    />
                  )}
                </CardBody>
              </Card>
            </GridItem>
          </Grid>
        )}
      </PageSection>
    </>
  );
}
