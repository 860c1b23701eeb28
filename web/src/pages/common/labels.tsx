// Translated names and coloured labels for roles and terminal states.
import { Label } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import type { Role, TerminalState } from '../../types';

export function useRoleName(): (role: Role | string) => string {
  const { t } = useI18n();
  return (role) =>
    role === 'admin'
      ? t('administrator')
      : role === 'operator'
        ? t('operator')
        : role === 'viewer'
          ? t('viewer')
          : role;
}

export function TerminalStateLabel({ state }: { state: TerminalState | string }) {
  const { t } = useI18n();
  if (state === 'enrolled')
    return (
      <Label color="blue" isCompact>
        {t('enrolled')}
      </Label>
    );
  if (state === 'pending')
    return (
      <Label color="orange" isCompact>
        {t('pending')}
      </Label>
    );
  if (state === 'disabled')
    return (
      <Label color="grey" isCompact>
        {t('disabled')}
      </Label>
    );
  return <Label isCompact>{state}</Label>;
}

export function ConnectedLabel({ connected }: { connected: boolean }) {
  const { t } = useI18n();
  return connected ? (
    <Label color="teal" isCompact>
      {t('connected')}
    </Label>
  ) : (
    <span className="lv-subtle lv-nowrap">{t('not connected')}</span>
  );
}
