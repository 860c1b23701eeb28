// /labs/:id — a lab: what applies now, its profiles and timetable, address pool and
// terminals; start or stop all its VMs; admins edit and delete it.
import { useState } from 'react';
import {
  Alert,
  AlertActionCloseButton,
  Button,
  Card,
  CardBody,
  CardTitle,
  Flex,
  Grid,
  GridItem,
  PageSection,
} from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { navigate, useRoute } from '../router';
import { useSession } from '../session';
import type { Lab, LabStart, LabTimetable, Terminal } from '../types';
import { Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { LabTerminalsTable } from './dashboard/labs';
import { EditLabModal } from './labs/edit-lab';
import { LabOverview } from './labs/lab-overview';
import { TimetableEditor } from './labs/timetable-editor';
import { ConfirmButton } from './parts/confirm';
import { isActive } from './parts/states';
import { useVms } from './parts/use-vms';

export function LabPage() {
  const { t, tn } = useI18n();
  const { can } = useSession();
  const id = useRoute().params['id'] ?? '';
  const ref = encodeURIComponent(id);
  const lab = useResource<Lab>(`/labs/${ref}`, ['labs', 'terminals', 'profiles']);
  const timetable = useResource<LabTimetable>(`/labs/${ref}/timetable`, ['labs', 'profiles']);
  const terminals = useResource<Terminal[]>(`/terminals?lab=${ref}`, ['terminals', 'labs']);
  const { vms } = useVms('/vms?state=active');
  const [result, setResult] = useState<string | undefined>(undefined);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [starting, setStarting] = useState(false);
  const [editing, setEditing] = useState(false);

  if (lab.data === undefined)
    return (
      <PageSection>
        <ProblemAlert error={lab.error} />
        {lab.loading && <Loading />}
      </PageSection>
    );
  const data = lab.data;

  const start = async () => {
    setStarting(true);
    setProblem(undefined);
    try {
      const answer = await api.post<LabStart>(`/labs/${ref}/start`);
      setResult(
        tn('{count} VM started', '{count} VMs started', answer.started, {
          count: answer.started,
        }) +
          (answer.failed.length > 0
            ? ' ' +
              tn('{count} failed: {list}', '{count} failed: {list}', answer.failed.length, {
                count: answer.failed.length,
                list: answer.failed.map((f) => `${f.terminal} (${f.reason})`).join(', '),
              })
            : ''),
      );
    } catch (error) {
      setProblem(error);
    } finally {
      setStarting(false);
    }
  };
  const stop = async () => {
    const answer = await api.post<{ stopped: number }>(`/labs/${ref}/stop`);
    setResult(
      tn('{count} VM stopped', '{count} VMs stopped', answer.stopped, { count: answer.stopped }),
    );
  };
  const remove = async () => {
    await api.del(`/labs/${ref}`);
    navigate('/labs');
  };
  const labVms = (vms ?? []).filter((vm) => isActive(vm.state));

  return (
    <>
      <PageTitle
        title={data.name}
        subtitle={data.description || undefined}
        actions={
          <Flex>
            {can('operator') && (
              <Button variant="primary" onClick={() => void start()} isLoading={starting}>
                {t('Start lab')}
              </Button>
            )}
            {can('operator') && (
              <ConfirmButton
                text={t('Stop lab')}
                title={t('Stop every VM of {lab}?', { lab: data.name })}
                onConfirm={stop}
                size="default"
              >
                {t('The VMs of its terminals end; what was written in them is discarded.')}
              </ConfirmButton>
            )}
            {can('admin') && (
              <Button variant="secondary" onClick={() => setEditing(true)}>
                {t('Edit lab')}
              </Button>
            )}
            {can('admin') && (
              <ConfirmButton
                text={t('Delete lab')}
                title={t('Delete {lab}?', { lab: data.name })}
                onConfirm={remove}
                variant="danger"
                size="default"
              >
                {t('Its terminals become pending and must be enrolled again.')}
              </ConfirmButton>
            )}
          </Flex>
        }
      />
      <PageSection>
        <ProblemAlert error={problem} />
        {result !== undefined && (
          <Alert
            variant="info"
            isInline
            title={result}
            className="pf-v6-u-mb-lg"
            actionClose={<AlertActionCloseButton onClose={() => setResult(undefined)} />}
          />
        )}
        <Grid hasGutter>
          <GridItem xl={5} lg={12}>
            <LabOverview lab={data} timetable={timetable.data} />
          </GridItem>
          <GridItem xl={7} lg={12}>
            <Card isFullHeight>
              <CardTitle component="h2">{t('Terminals')}</CardTitle>
              <CardBody>
                <ProblemAlert error={terminals.error} />
                {terminals.data === undefined ? (
                  <Loading />
                ) : terminals.data.length === 0 ? (
                  <p>{t('No terminals in this lab.')}</p>
                ) : (
                  <LabTerminalsTable lab={data} terminals={terminals.data} vms={labVms} />
                )}
              </CardBody>
            </Card>
          </GridItem>
          <GridItem span={12}>
            <Card>
              <CardTitle component="h2">{t('Timetable')}</CardTitle>
              <CardBody>
                <ProblemAlert error={timetable.error} />
                {timetable.data !== undefined && (
                  <TimetableEditor
                    key={data.id}
                    lab={data}
                    timetable={timetable.data}
                    editable={can('admin')}
                  />
                )}
              </CardBody>
            </Card>
          </GridItem>
        </Grid>
      </PageSection>
      {editing && <EditLabModal lab={data} onClose={() => setEditing(false)} />}
    </>
  );
}
