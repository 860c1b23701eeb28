// /audit (administrators): the audit log, newest first, in pages of 50, filtered by who,
// what and which target. The first page follows changes live.
import { useState, type FormEvent } from 'react';
import {
  Button,
  Flex,
  Form,
  FormGroup,
  PageSection,
  TextInput,
  Toolbar,
  ToolbarContent,
  ToolbarItem,
} from '@patternfly/react-core';
import { query } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { useI18n } from '../i18n';
import { useResource } from '../live';
import { useSession } from '../session';
import type { AuditEntry } from '../types';
import { Empty, Loading } from './common/empty';
import { PageTitle } from './common/page-title';
import { Cell, Row, Table } from './parts/table';

const PAGE = 50;
const everything = ['labs', 'terminals', 'profiles', 'hosts', 'users', 'vms', 'dhcp', 'audit'];

interface Filter {
  actor: string;
  action: string;
  targetType: string;
}
const noFilter: Filter = { actor: '', action: '', targetType: '' };

export function AuditPage() {
  const { t } = useI18n();
  const { can } = useSession();
  if (!can('admin'))
    return (
      <>
        <PageTitle title={t('Audit log')} />
        <Empty title={t('Only administrators see the audit log.')} />
      </>
    );
  return <AuditLog />;
}

function details(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object' && Object.keys(value).length === 0) return '';
  return JSON.stringify(value);
}

function AuditLog() {
  const { t, formatDate } = useI18n();
  const [draft, setDraft] = useState<Filter>(noFilter);
  const [filter, setFilter] = useState<Filter>(noFilter);
  // The `before` cursor of each page shown so far; the last one is the current page.
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const before = cursors[cursors.length - 1];
  const path = '/audit' + query({ limit: PAGE, before, ...filter });
  const log = useResource<AuditEntry[]>(path, before === undefined ? everything : []);
  const entries = log.data ?? [];
  const last = entries[entries.length - 1];

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilter({
      actor: draft.actor.trim(),
      action: draft.action.trim(),
      targetType: draft.targetType.trim(),
    });
    setCursors([undefined]);
  };
  const field = (key: keyof Filter, label: string) => (
    <FormGroup label={label} fieldId={`audit-${key}`}>
      <TextInput
        id={`audit-${key}`}
        value={draft[key]}
        onChange={(_e, value) => setDraft({ ...draft, [key]: value })}
      />
    </FormGroup>
  );

  return (
    <>
      <PageTitle title={t('Audit log')} />
      <PageSection>
        <Form onSubmit={apply} aria-label={t('Filter the audit log')}>
          <Flex alignItems={{ default: 'alignItemsFlexEnd' }}>
            {field('actor', t('User'))}
            {field('action', t('Action'))}
            {field('targetType', t('Target type'))}
            <Button type="submit" variant="secondary">
              {t('Filter')}
            </Button>
            <Button
              variant="link"
              onClick={() => {
                setDraft(noFilter);
                setFilter(noFilter);
                setCursors([undefined]);
              }}
            >
              {t('Clear filter')}
            </Button>
          </Flex>
        </Form>
        <ProblemAlert error={log.error} />
        {log.data === undefined ? (
          log.loading && <Loading />
        ) : entries.length === 0 ? (
          <Empty title={t('No audit events')} />
        ) : (
          <Table
            label={t('Audit log')}
            columns={[t('Time'), t('User'), t('Source'), t('Action'), t('Target'), t('Details')]}
          >
            {entries.map((entry) => (
              <Row key={entry.id}>
                <Cell>
                  <span className="lv-nowrap">{formatDate(entry.at)}</span>
                </Cell>
                <Cell>{entry.actor}</Cell>
                <Cell>{entry.source ?? '—'}</Cell>
                <Cell>
                  <code>{entry.action}</code>
                </Cell>
                <Cell>
                  {entry.targetType === null ? '—' : `${entry.targetType} ${entry.targetId ?? ''}`}
                </Cell>
                <Cell>
                  <code style={{ wordBreak: 'break-all' }}>{details(entry.details)}</code>
                </Cell>
              </Row>
            ))}
          </Table>
        )}
        <Toolbar>
          <ToolbarContent>
            <ToolbarItem>
              <Button
                variant="secondary"
                isDisabled={cursors.length <= 1}
                onClick={() => setCursors(cursors.slice(0, -1))}
              >
                {t('Newer')}
              </Button>
            </ToolbarItem>
            <ToolbarItem>
              <Button
                variant="secondary"
                isDisabled={entries.length < PAGE || last === undefined}
                onClick={() => last !== undefined && setCursors([...cursors, last.id])}
              >
                {t('Older')}
              </Button>
            </ToolbarItem>
          </ToolbarContent>
        </Toolbar>
      </PageSection>
    </>
  );
}
