// A VM's actions: open its console, its serial log, restart (a reset) and stop, each
// asked first when it interrupts the guest. Operators and up; an admin VM, admins only.
import { Button, Flex, FlexItem, Tooltip } from '@patternfly/react-core';
import ListIcon from '@patternfly/react-icons/dist/esm/icons/list-icon';
import PowerOffIcon from '@patternfly/react-icons/dist/esm/icons/power-off-icon';
import RedoIcon from '@patternfly/react-icons/dist/esm/icons/redo-icon';
import { api } from '../../api';
import { useI18n } from '../../i18n';
import { Link, navigate } from '../../router';
import { useSession } from '../../session';
import type { Vm } from '../../types';
import { ConfirmButton } from './confirm';
import { isActive } from './states';

export function vmPath(vm: Pick<Vm, 'id'>, tail = ''): string {
  return `/vms/${encodeURIComponent(vm.id)}${tail}`;
}

export function VmActions({ vm, detailed = false }: { vm: Vm; detailed?: boolean }) {
  const { t } = useI18n();
  const { can } = useSession();
  const active = isActive(vm.state);
  const mayAct = can(vm.kind === 'admin' ? 'admin' : 'operator');
  const stop = () => api.post<Vm>(`${vmPath(vm)}/stop`, {});
  const reset = () => api.post<Vm>(`${vmPath(vm)}/reset`, {});
  return (
    <Flex
      spaceItems={{ default: detailed ? 'spaceItemsSm' : 'spaceItemsNone' }}
      flexWrap={{ default: 'nowrap' }}
      alignItems={{ default: 'alignItemsCenter' }}
    >
      {active && (
        <FlexItem>
          <Button variant="secondary" size="sm" onClick={() => navigate(vmPath(vm, '/console'))}>
            {t('Open console')}
          </Button>
        </FlexItem>
      )}
      {!detailed && (
        <FlexItem>
          <Tooltip content={t('Serial log')} aria="none">
            <Link
              to={`${vmPath(vm)}#serial`}
              aria-label={t('Serial log')}
              className="pf-v6-c-button pf-m-plain pf-m-small"
            >
              <ListIcon />
            </Link>
          </Tooltip>
        </FlexItem>
      )}
      {mayAct && active && (
        <FlexItem>
          <ConfirmButton
            text={t('Restart')}
            title={t('Restart {name}?', { name: vm.name })}
            onConfirm={reset}
            isDisabled={vm.state !== 'running'}
            {...(detailed ? {} : { icon: <RedoIcon /> })}
          >
            {t('The VM is reset at once, like its reset button: unsaved work in it is lost.')}
          </ConfirmButton>
        </FlexItem>
      )}
      {mayAct && active && (
        <FlexItem>
          <ConfirmButton
            text={t('Stop')}
            title={t('Stop {name}?', { name: vm.name })}
            onConfirm={stop}
            isDisabled={vm.state === 'stopping'}
            {...(detailed ? {} : { icon: <PowerOffIcon /> })}
          >
            {vm.kind === 'admin'
              ? t(
                  'The guest is asked to shut down, then the VM is ended. The admin session keeps its draft.',
                )
              : t(
                  'The guest is asked to shut down, then the VM is ended. Its writes are thrown away, and a terminal using it is disconnected.',
                )}
          </ConfirmButton>
        </FlexItem>
      )}
    </Flex>
  );
}
