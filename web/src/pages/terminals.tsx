// /terminals: every terminal with its lab, state and VM; add, enrol, move, disable or
// enable, and delete terminals.
import { useState } from 'react';
import {
  Button,
  Flex,
  FormSelect,
  FormSelectOption,
  PageSection,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { Link, pathTo } from '../router';
import { useSession } from '../session';
import type { Lab, Terminal } from '../types';
import { Empty, Loading } from './common/empty';
import { ConnectedLabel, TerminalStateLabel } from './common/labels';
import { PageTitle } from './common/page-title';
import { ConfirmButton } from './parts/confirm';
import { isActive, VmStateLabel } from './parts/states';
import { Cell, Row, Table } from './parts/table';
import { useVms } from './parts/use-vms';
import { TerminalModal, type TerminalAction } from './terminals/terminal-modal';

export function TerminalsPage() {
  const { t, formatDate } = useI18n();
  const { can } = useSession();
  const terminals = useResource<Terminal[]>('/terminals', ['terminals', 'labs']);
  const labs = useResource<Lab[]>('/labs', ['labs']);
  const { vms } = useVms('/vms?state=active');
  const [labFilter, setLabFilter] = useState('');
  const [stateFilter, setStateFilter] = useState('');
  const [action, setAction] = useState<TerminalAction | undefined>(undefined);
  const [problem, setProblem] = useState<unknown>(undefined);
  const vmOf = (terminal: Terminal) =>
    (vms ?? []).find((vm) => vm.terminal === terminal.mac && isActive(vm.state));

  const shown = (terminals.data ?? []).filter(
    (x) =>
      (labFilter === '' || (labFilter === '-' ? x.lab === null : x.lab === labFilter)) &&
      (stateFilter === '' || x.state === stateFilter),
  );
  const setEnabled = async (terminal: Terminal, enabled: boolean) => {
    setProblem(undefined);
    try {
      await api.patch(`/terminals/${encodeURIComponent(terminal.id)}`, { enabled });
    } catch (error) {
      setProblem(error);
    }
  };

  return (
    <>
      <PageTitle
        title={t('Terminals')}
        actions={
          can('operator') && (
            <Button variant="primary" onClick={() => setAction({ kind: 'add' })}>
              {t('Add terminal')}
            </Button>
          )
        }
      />
      <PageSection>
        <ProblemAlert error={terminals.error ?? problem} />
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <FormSelect
                aria-label={t('Filter by lab')}
                value={labFilter}
                onChange={(_e, value) => setLabFilter(value)}
              >
                <FormSelectOption value="" label={t('All labs')} />
                <FormSelectOption value="-" label={t('No lab')} />
                {(labs.data ?? []).map((lab) => (
                  <FormSelectOption key={lab.id} value={lab.name} label={lab.name} />
                ))}
              </FormSelect>
            </ToolbarItem>
            <ToolbarItem>
              <FormSelect
                aria-label={t('Filter by state')}
                value={stateFilter}
                onChange={(_e, value) => setStateFilter(value)}
              >
                <FormSelectOption value="" label={t('All states')} />
                <FormSelectOption value="pending" label={t('pending')} />
                <FormSelectOption value="enrolled" label={t('enrolled')} />
                <FormSelectOption value="disabled" label={t('disabled')} />
              </FormSelect>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
        {terminals.data === undefined ? (
          terminals.loading && <Loading />
        ) : shown.length === 0 ? (
          <Empty title={t('No terminals')}>
            {t('Terminals appear here when they first boot from the network, or add one by MAC.')}
          </Empty>
        ) : (
          <Table
            label={t('Terminals')}
            columns={[
              t('Name'),
              t('MAC address'),
              t('Lab'),
              t('State'),
              t('VM'),
              t('Connection'),
              t('Last seen'),
              '',
            ]}
          >
            {shown.map((terminal) => {
              const vm = vmOf(terminal);
              return (
                <Row key={terminal.id}>
                  <Cell header>{terminal.name}</Cell>
                  <Cell>
                    <code>{terminal.mac}</code>
                  </Cell>
                  <Cell>
                    {terminal.lab === null ? (
                      '—'
                    ) : (
                      <span className="lv-nowrap">
                        <Link to={pathTo('/labs', terminal.lab)}>{terminal.lab}</Link>
                      </span>
                    )}
                  </Cell>
                  <Cell>
                    <TerminalStateLabel state={terminal.state} />
                  </Cell>
                  <Cell>
                    {vm === undefined ? (
                      '—'
                    ) : (
                      <Link to={pathTo('/vms', vm.id)}>
                        <VmStateLabel state={vm.state} />
                      </Link>
                    )}
                  </Cell>
                  <Cell>
                    <ConnectedLabel connected={(vm?.connections.length ?? 0) > 0} />
                  </Cell>
                  <Cell>{formatDate(terminal.lastSeenAt) || '—'}</Cell>
                  <Cell actions>
                    {can('operator') && (
                      <Flex gap={{ default: 'gapSm' }} flexWrap={{ default: 'nowrap' }}>
                        {terminal.state === 'pending' ? (
                          <Button size="sm" onClick={() => setAction({ kind: 'enrol', terminal })}>
                            {t('Enrol')}
                          </Button>
                        ) : (
                          <Button
                            size="sm"
                            variant="secondary"
                            onClick={() => setAction({ kind: 'move', terminal })}
                          >
                            {t('Move')}
                          </Button>
                        )}
                        {terminal.state === 'enrolled' && (
                          <Button
                            size="sm"
                            variant="secondary"
                            onClick={() => void setEnabled(terminal, false)}
                          >
                            {t('Disable')}
                          </Button>
                        )}
                        {terminal.state === 'disabled' && (
                          <Button
                            size="sm"
                            variant="secondary"
                            onClick={() => void setEnabled(terminal, true)}
                          >
                            {t('Enable')}
                          </Button>
                        )}
                        <ConfirmButton
                          text={t('Delete')}
                          title={t('Delete terminal {name}?', { name: terminal.name })}
                          onConfirm={() => api.del(`/terminals/${encodeURIComponent(terminal.id)}`)}
                        >
                          {t('If it boots again it comes back as pending.')}
                        </ConfirmButton>
                      </Flex>
                    )}
                  </Cell>
                </Row>
              );
            })}
          </Table>
        )}
      </PageSection>
      {action !== undefined && (
        <TerminalModal
          action={action}
          labs={labs.data ?? []}
          onClose={() => setAction(undefined)}
        />
      )}
    </>
  );
}
