// /hosts/:id: a host's details, its resource use over the last hour (live), each VM's use
// at the latest sample, its VMs and a link to its outside monitoring page.
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
import { LineChart, type ChartPoint } from '../components/line-chart';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useLiveEvent, useResource } from '../live';
import { Link, useRoute } from '../router';
import type { Host, HostMetrics, HostUsage, Terminal } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { percent, useBytes } from './parts/usage';
import { HostStateLabel, isActive } from './parts/states';
import { useVms } from './parts/use-vms';
import { VmTable } from './parts/vm-table';
import { VmUsageTable } from './parts/vm-usage-table';

/** An hour of samples at most, as the server keeps. */
const KEEP = 360;

/** One chart: a percentage of each sample, or points of its own with their scale and unit. */
type Chart = { label: string; title: string } & (
  | { value: (sample: HostUsage) => number }
  | { points: ChartPoint[]; max: number; format: (value: number) => string }
);

/**
 * Bytes per second received and sent between consecutive samples, from the hosts'
 * counters (none across a counter reset or a sample without them).
 */
function netRates(samples: readonly HostUsage[]): { at: string; rx: number; tx: number }[] {
  const rates: { at: string; rx: number; tx: number }[] = [];
  for (const [i, b] of samples.entries()) {
    const a = samples[i - 1];
    if (a === undefined) continue;
    const seconds = (Date.parse(b.at) - Date.parse(a.at)) / 1000;
    if (a.netRxBytes === undefined || a.netTxBytes === undefined || seconds <= 0) continue;
    if (b.netRxBytes === undefined || b.netTxBytes === undefined) continue;
    const rx = b.netRxBytes - a.netRxBytes;
    const tx = b.netTxBytes - a.netTxBytes;
    if (rx < 0 || tx < 0) continue;
    rates.push({ at: b.at, rx: rx / seconds, tx: tx / seconds });
  }
  return rates;
}

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
  const bytes = useBytes();
  const rate = (value: number) => t('{amount}/s', { amount: bytes(value) });
  const rates = netRates(samples);
  // Both network charts share one scale (at least 1 KiB/s), so they compare at a glance.
  const netMax = Math.max(1024, ...rates.map((r) => Math.max(r.rx, r.tx)));
  const hasNet = rates.length > 0;
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
              ...(hasNet
                ? [
                    {
                      label: t('Received'),
                      title: t('Network received by {host}', { host: name }),
                      points: rates.map((r) => ({ at: r.at, value: r.rx })),
                      max: netMax,
                      format: rate,
                    },
                    {
                      label: t('Sent'),
                      title: t('Network sent by {host}', { host: name }),
                      points: rates.map((r) => ({ at: r.at, value: r.tx })),
                      max: netMax,
                      format: rate,
                    },
                  ]
                : []),
            ].map((chart: Chart) => (
              <GridItem lg={4} md={6} key={chart.label}>
                <Card isCompact>
                  <CardTitle>{chart.label}</CardTitle>
                  <CardBody>
                    <LineChart
                      title={chart.title}
                      points={
                        'points' in chart
                          ? chart.points
                          : samples.map((s) => ({ at: s.at, value: chart.value(s) }))
                      }
                      max={'max' in chart ? chart.max : 100}
                      format={'format' in chart ? chart.format : pct}
                    />
                  </CardBody>
                </Card>
              </GridItem>
            ))}
            <GridItem lg={hasNet ? 4 : 12} md={hasNet ? 6 : 12}>
              <Card isCompact>
                <CardTitle>{t('Use of each VM')}</CardTitle>
                <CardBody>
                  <VmUsageTable
                    usage={samples.at(-1)?.vmUsage}
                    vms={mine}
                    label={t('VM use on {host}', { host: name })}
                  />
                </CardBody>
              </Card>
            </GridItem>
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
