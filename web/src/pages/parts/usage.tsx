// A host's CPU, memory and disk use as small bars, from its latest sample.
import { Progress, ProgressMeasureLocation, ProgressSize } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import type { HostUsage } from '../../types';

export function percent(used: number, total: number): number {
  return total > 0 ? Math.min(100, Math.max(0, (used / total) * 100)) : 0;
}

/** Mebibytes as GiB text with one decimal, in the user's locale. */
export function useGiB() {
  const { t, formatNumber } = useI18n();
  return (mib: number) => t('{amount} GiB', { amount: formatNumber(Math.round(mib / 102.4) / 10) });
}

/** A size in bytes as text in the largest unit that keeps it at or above 1. */
export function useBytes() {
  const { t, formatNumber } = useI18n();
  return (bytes: number) => {
    const amount = (value: number) =>
      formatNumber(value, { maximumFractionDigits: value < 10 ? 1 : 0 });
    if (bytes >= 1024 ** 3) return t('{amount} GiB', { amount: amount(bytes / 1024 ** 3) });
    if (bytes >= 1024 ** 2) return t('{amount} MiB', { amount: amount(bytes / 1024 ** 2) });
    if (bytes >= 1024) return t('{amount} KiB', { amount: amount(bytes / 1024) });
    return t('{amount} bytes', { amount: formatNumber(bytes) });
  };
}

function variantOf(value: number): 'danger' | 'warning' | undefined {
  return value >= 90 ? 'danger' : value >= 75 ? 'warning' : undefined;
}

function Bar({ title, value, text }: { title: string; value: number; text: string }) {
  const variant = variantOf(value);
  // The figures above a thin bar: a table cell has no room for them beside it.
  return (
    <div style={{ width: '10rem' }}>
      <div style={{ fontSize: 'var(--pf-t--global--font--size--sm, 0.875rem)' }}>{text}</div>
      <Progress
        aria-label={title}
        value={value}
        valueText={text}
        size={ProgressSize.sm}
        measureLocation={ProgressMeasureLocation.none}
        {...(variant !== undefined ? { variant } : {})}
      />
    </div>
  );
}

export function CpuBar({ usage }: { usage: HostUsage }) {
  const { t, formatNumber } = useI18n();
  const value = Math.round(usage.cpuPercent);
  return (
    <Bar title={t('CPU')} value={value} text={t('{percent} %', { percent: formatNumber(value) })} />
  );
}

export function MemoryBar({ usage }: { usage: HostUsage }) {
  const { t } = useI18n();
  const gib = useGiB();
  return (
    <Bar
      title={t('Memory')}
      value={percent(usage.memoryUsedMiB, usage.memoryTotalMiB)}
      text={t('{used} of {total}', {
        used: gib(usage.memoryUsedMiB),
        total: gib(usage.memoryTotalMiB),
      })}
    />
  );
}

export function DiskBar({ usage }: { usage: HostUsage }) {
  const { t } = useI18n();
  const gib = useGiB();
  return (
    <Bar
      title={t('Disk')}
      value={percent(usage.diskUsedMiB, usage.diskTotalMiB)}
      text={t('{used} of {total}', {
        used: gib(usage.diskUsedMiB),
        total: gib(usage.diskTotalMiB),
      })}
    />
  );
}
