// Coloured labels for VM, host and job states, translated.
import { Label } from '@patternfly/react-core';
import { useI18n } from '../../i18n';

type Color = 'green' | 'blue' | 'grey' | 'red' | 'orange' | 'purple';

export function VmStateLabel({ state }: { state: string }) {
  const { t } = useI18n();
  const [color, text]: [Color, string] =
    state === 'running'
      ? ['green', t('running')]
      : state === 'starting'
        ? ['blue', t('starting')]
        : state === 'stopping'
          ? ['blue', t('stopping')]
          : state === 'stopped'
            ? ['grey', t('stopped')]
            : state === 'crashed'
              ? ['red', t('crashed')]
              : state === 'failed'
                ? ['red', t('failed')]
                : ['grey', state];
  return (
    <Label color={color} isCompact>
      {text}
    </Label>
  );
}

export function HostStateLabel({ state }: { state: string }) {
  const { t } = useI18n();
  const [color, text]: [Color, string] =
    state === 'online'
      ? ['green', t('online')]
      : state === 'offline'
        ? ['grey', t('offline')]
        : state === 'unavailable'
          ? ['red', t('unavailable')]
          : state === 'pending'
            ? ['blue', t('pending')]
            : ['grey', state];
  return (
    <Label color={color} isCompact>
      {text}
    </Label>
  );
}

export function KindLabel({ kind }: { kind: string }) {
  const { t } = useI18n();
  return kind === 'admin' ? (
    <Label color="purple" isCompact>
      {t('admin')}
    </Label>
  ) : (
    <>{t('client')}</>
  );
}

/** States in which a VM has a process (it can be stopped, reset, watched). */
export function isActive(state: string): boolean {
  return state === 'starting' || state === 'running' || state === 'stopping';
}
