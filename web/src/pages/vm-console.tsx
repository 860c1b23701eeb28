// /vms/:id/console: the VM's screen, full width.
import { Breadcrumb, BreadcrumbItem, PageSection } from '@patternfly/react-core';
import { VncConsole } from '../console/vnc-console';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { Link, useRoute } from '../router';
import { useSession } from '../session';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { VmStateLabel, isActive } from './parts/states';
import { useVm } from './parts/use-vms';

export function VmConsolePage() {
  const { t } = useI18n();
  const { params } = useRoute();
  const { can } = useSession();
  const id = params['id'] ?? '';
  const { vm, error } = useVm(id);
  const name = vm?.name ?? id;
  return (
    <>
      <PageSection>
        <Breadcrumb>
          <BreadcrumbItem>
            <Link to="/vms">{t('VMs')}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem>
            <Link to={`/vms/${encodeURIComponent(id)}`}>{name}</Link>
          </BreadcrumbItem>
          <BreadcrumbItem isActive>{t('Console')}</BreadcrumbItem>
        </Breadcrumb>
      </PageSection>
      <PageTitle
        title={t('Console of {name}', { name })}
        subtitle={vm !== undefined ? <VmStateLabel state={vm.state} /> : undefined}
      />
      <PageSection>
        <ProblemAlert error={error} />
        {vm === undefined && error === undefined && <Loading />}
        {vm !== undefined && !isActive(vm.state) && (
          <Empty title={t('The VM is not running')}>
            {t('Its console shows something again once it is started.')}
          </Empty>
        )}
        {vm !== undefined && isActive(vm.state) && (
          <VncConsole vmId={vm.id} viewOnly={!can('operator')} height="calc(100vh - 16rem)" />
        )}
      </PageSection>
    </>
  );
}
