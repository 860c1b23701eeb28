// /labs: every lab with what applies now, its default profile, terminals and address pool;
// admins create labs here.
import { useEffect, useState } from 'react';
import { Button, Label, PageSection } from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { Link, pathTo } from '../router';
import { useSession } from '../session';
import type { Lab, LabTimetable } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { CreateLabModal } from './labs/create-lab';
import { Cell, Row, Table } from './parts/table';

export function LabsPage() {
  const { t, formatNumber } = useI18n();
  const { can } = useSession();
  const labs = useResource<Lab[]>('/labs', ['labs', 'terminals', 'profiles']);
  const [creating, setCreating] = useState(false);
  return (
    <>
      <PageTitle
        title={t('Labs')}
        actions={
          can('admin') && (
            <Button variant="primary" onClick={() => setCreating(true)}>
              {t('Create lab')}
            </Button>
          )
        }
      />
      <PageSection>
        <ProblemAlert error={labs.error} />
        {labs.data === undefined ? (
          labs.loading && <Loading />
        ) : labs.data.length === 0 ? (
          <Empty title={t('No labs yet')}>
            {can('admin') ? t('Create a lab to enrol terminals into it.') : null}
          </Empty>
        ) : (
          <Table
            label={t('Labs')}
            columns={[
              t('Name'),
              t('Now'),
              t('Default profile'),
              t('Terminals'),
              t('Address pool'),
              t('Description'),
            ]}
          >
            {labs.data.map((lab) => (
              <Row key={lab.id}>
                <Cell header>
                  <Link to={pathTo('/labs', lab.id)}>{lab.name}</Link>
                </Cell>
                <Cell>
                  <Availability lab={lab} />
                </Cell>
                <Cell>{lab.defaultProfile ?? '—'}</Cell>
                <Cell>{formatNumber(lab.terminals)}</Cell>
                <Cell>{lab.addressPool ?? '—'}</Cell>
                <Cell>{lab.description}</Cell>
              </Row>
            ))}
          </Table>
        )}
      </PageSection>
      {creating && <CreateLabModal onClose={() => setCreating(false)} />}
    </>
  );
}

/** What applies in the lab now, from its timetable: open with a profile, or closed. */
export function Availability({ lab, timetable }: { lab: Lab; timetable?: LabTimetable }) {
  const { t, tc, formatDate } = useI18n();
  const [loaded, setLoaded] = useState<LabTimetable | undefined>(undefined);
  useEffect(() => {
    if (timetable !== undefined) return;
    let current = true;
    api
      .get<LabTimetable>(`/labs/${encodeURIComponent(lab.id)}/timetable`)
      .then((value) => current && setLoaded(value))
      .catch(() => undefined);
    return () => {
      current = false;
    };
  }, [lab, timetable]);
  const now = (timetable ?? loaded)?.now;
  if (now === undefined) return <>—</>;
  if (now.state === 'open')
    return (
      <>
        <Label color="green" isCompact>
          {tc('lab state', 'open')}
        </Label>{' '}
        {now.until !== null
          ? t('{profile} until {time}', { profile: now.profile, time: formatDate(now.until) })
          : now.profile}
      </>
    );
  return (
    <>
      <Label color="grey" isCompact>
        {tc('lab state', 'closed')}
      </Label>{' '}
      {now.opensAt !== null ? t('opens {time}', { time: formatDate(now.opensAt) }) : null}
    </>
  );
}
