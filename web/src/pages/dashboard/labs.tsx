// The dashboard's labs: each lab's terminals with their VM's state and whether the
// terminal is connected to it.
import { Card, CardBody, CardTitle, Flex, Label, Title } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import { Link, pathTo } from '../../router';
import type { Lab, Terminal, Vm } from '../../types';
import { ConnectedLabel, TerminalStateLabel } from '../common/labels';
import { Empty, Loading } from '../common/empty';
import { VmStateLabel } from '../parts/states';
import { Cell, Row, Table } from '../parts/table';

interface Props {
  labs: Lab[] | undefined;
  terminals: Terminal[];
  vms: Vm[];
}

export function DashboardLabs({ labs, terminals, vms }: Props) {
  const { t } = useI18n();
  return (
    <Card>
      <CardTitle component="h2">{t('Labs')}</CardTitle>
      <CardBody>
        {labs === undefined ? (
          <Loading />
        ) : labs.length === 0 ? (
          <Empty title={t('No labs yet')}>
            <Link to="/labs">{t('Create a lab')}</Link>
          </Empty>
        ) : (
          labs.map((lab) => (
            <LabBlock
              key={lab.id}
              lab={lab}
              terminals={terminals.filter((x) => x.lab === lab.name || x.lab === lab.id)}
              vms={vms}
            />
          ))
        )}
      </CardBody>
    </Card>
  );
}

function LabBlock({ lab, terminals, vms }: { lab: Lab; terminals: Terminal[]; vms: Vm[] }) {
  const vmOf = vmFinder(vms);
  const { t, tn } = useI18n();
  const running = terminals.filter((x) => vmOf(x)?.state === 'running').length;
  const connected = terminals.filter((x) => (vmOf(x)?.connections.length ?? 0) > 0).length;
  return (
    <section className="pf-v6-u-mb-lg" aria-label={t('Lab {name}', { name: lab.name })}>
      <Flex alignItems={{ default: 'alignItemsCenter' }} gap={{ default: 'gapSm' }}>
        <Title headingLevel="h3" size="md">
          <Link to={pathTo('/labs', lab.id)}>{lab.name}</Link>
        </Title>
        <Label isCompact color="green">
          {tn('{count} running', '{count} running', running, { count: running })}
        </Label>
        <Label isCompact color="teal">
          {tn('{count} connected', '{count} connected', connected, { count: connected })}
        </Label>
      </Flex>
      {terminals.length === 0 ? (
        <p className="lv-subtle">{t('No terminals in this lab.')}</p>
      ) : (
        <LabTerminalsTable lab={lab} terminals={terminals} vms={vms} />
      )}
    </section>
  );
}

/** The VM serving a terminal (VMs name their terminal by MAC). */
function vmFinder(vms: Vm[]): (terminal: Terminal) => Vm | undefined {
  const byMac = new Map(vms.flatMap((vm) => (vm.terminal ? [[vm.terminal, vm] as const] : [])));
  return (terminal) => byMac.get(terminal.mac);
}

/** A lab's terminals with their VM's state, profile and connection. */
export function LabTerminalsTable({
  lab,
  terminals,
  vms,
}: {
  lab: Lab;
  terminals: Terminal[];
  vms: Vm[];
}) {
  const { t } = useI18n();
  const vmOf = vmFinder(vms);
  return (
    <Table
      label={t('Terminals of {lab}', { lab: lab.name })}
      columns={[t('Terminal'), t('State'), t('VM'), t('Profile'), t('Connection')]}
    >
      {terminals.map((terminal) => {
        const vm = vmOf(terminal);
        return (
          <Row key={terminal.id}>
            <Cell header>{terminal.name}</Cell>
            <Cell>
              <TerminalStateLabel state={terminal.state} />
            </Cell>
            <Cell>
              {vm === undefined ? (
                <span className="lv-subtle lv-nowrap">{t('no VM')}</span>
              ) : (
                <Link to={pathTo('/vms', vm.id)}>
                  <VmStateLabel state={vm.state} />
                </Link>
              )}
            </Cell>
            <Cell>{vm?.profile ?? '—'}</Cell>
            <Cell>
              <ConnectedLabel connected={(vm?.connections.length ?? 0) > 0} />
            </Cell>
          </Row>
        );
      })}
    </Table>
  );
}
