// A compact use bar for tables: the share as a thin bar, the amounts as text beside it.
import { Progress, ProgressMeasureLocation, ProgressSize } from '@patternfly/react-core';

export function UsageBar({ label, value, text }: { label: string; value: number; text: string }) {
  const variant = value >= 90 ? 'danger' : value >= 75 ? 'warning' : undefined;
  return (
    <div style={{ minWidth: '15rem' }}>
      <Progress
        aria-label={label}
        value={Math.round(value)}
        label={text}
        valueText={text}
        size={ProgressSize.sm}
        measureLocation={ProgressMeasureLocation.outside}
        {...(variant !== undefined ? { variant } : {})}
      />
    </div>
  );
}
