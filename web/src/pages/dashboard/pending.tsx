// The dashboard's terminals waiting for enrolment (they asked to boot, no lab knows them).
import { Card, CardBody, CardTitle } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import { Link } from '../../router';
import type { Terminal } from '../../types';
import { Empty } from '../common/empty';
import { Cell, Row, Table } from '../parts/table';

export function DashboardPending({ terminals }: { terminals: Terminal[] }) {
  const { t, formatDate } = useI18n();
  return (
    <Card>
      <CardTitle component="h2">{t('Terminals pending enrolment')}</CardTitle>
      <CardBody>
        {terminals.length === 0 ? (
          <Empty title={t('No terminals are waiting')} />
        ) : (
          <>
            <Table
              label={t('Terminals pending enrolment')}
              columns={[t('MAC address'), t('Address'), t('Last seen')]}
            >
              {terminals.map((terminal) => (
                <Row key={terminal.id}>
                  <Cell header>{terminal.mac}</Cell>
                  <Cell>{terminal.lastIp ?? terminal.ip ?? '—'}</Cell>
                  <Cell>{formatDate(terminal.lastSeenAt) || '—'}</Cell>
                </Row>
              ))}
            </Table>
            <p className="pf-v6-u-mt-sm">
              <Link to="/terminals">{t('Enrol them on the Terminals page')}</Link>
            </p>
          </>
        )}
      </CardBody>
    </Card>
  );
}
