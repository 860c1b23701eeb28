// /users (administrators): users and their roles; add, change role, reset a password,
// disable or enable, delete.
import { useState } from 'react';
import {
  Button,
  Flex,
  FormSelect,
  FormSelectOption,
  Label,
  PageSection,
} from '@patternfly/react-core';
import { api } from '../api';
import { ProblemAlert } from '../components/problem-alert';
import { languages, useI18n } from '../i18n';
import { useResource } from '../live';
import { useSession } from '../session';
import type { Lab, Role, User } from '../types';
import { Empty, Loading } from './common/empty';
import { useRoleName } from './common/labels';
import { PageTitle } from './common/page-title';
import { ConfirmButton } from './parts/confirm';
import { Cell, Row, Table } from './parts/table';
import { AddUserModal, PasswordModal, UserLabsModal } from './users/user-modals';

const roles: readonly Role[] = ['viewer', 'operator', 'admin'];

export function UsersPage() {
  const { t } = useI18n();
  const { can } = useSession();
  if (!can('admin'))
    return (
      <>
        <PageTitle title={t('Users')} />
        <Empty title={t('Only administrators manage users.')} />
      </>
    );
  return <UsersList />;
}

function UsersList() {
  const { t, formatDate } = useI18n();
  const { user: me } = useSession();
  const roleName = useRoleName();
  const users = useResource<User[]>('/users', ['users']);
  const labs = useResource<Lab[]>('/labs', ['labs']);
  const [adding, setAdding] = useState(false);
  const [resetting, setResetting] = useState<User | undefined>(undefined);
  const [granting, setGranting] = useState<User | undefined>(undefined);
  const [problem, setProblem] = useState<unknown>(undefined);

  const patch = async (user: User, body: Partial<Pick<User, 'role' | 'disabled'>>) => {
    setProblem(undefined);
    try {
      await api.patch(`/users/${encodeURIComponent(user.id)}`, body);
    } catch (error) {
      setProblem(error);
    }
  };
  const languageName = (locale: string | null) =>
    locale === null
      ? t('browser’s')
      : (languages.find((entry) => entry.locale === locale)?.name ?? locale);

  return (
    <>
      <PageTitle
        title={t('Users')}
        actions={
          <Button variant="primary" onClick={() => setAdding(true)}>
            {t('Add user')}
          </Button>
        }
      />
      <PageSection>
        <ProblemAlert error={users.error ?? problem} />
        {users.data === undefined ? (
          users.loading && <Loading />
        ) : users.data.length === 0 ? (
          <Empty title={t('No users')} />
        ) : (
          <Table
            label={t('Users')}
            columns={[t('User name'), t('Role'), t('Labs'), t('Language'), t('Created'), '']}
          >
            {users.data.map((user) => (
              <Row key={user.id}>
                <Cell header>
                  {user.username}{' '}
                  {user.disabled && (
                    <Label isCompact color="grey">
                      {t('disabled')}
                    </Label>
                  )}
                </Cell>
                <Cell>
                  <div style={{ minWidth: '10rem' }}>
                    <FormSelect
                      aria-label={t('Role of {user}', { user: user.username })}
                      value={user.role}
                      isDisabled={user.id === me.id}
                      onChange={(_e, value) => void patch(user, { role: value as Role })}
                    >
                      {roles.map((r) => (
                        <FormSelectOption key={r} value={r} label={roleName(r)} />
                      ))}
                    </FormSelect>
                  </div>
                </Cell>
                <Cell>
                  {user.role === 'operator' ? (
                    <>
                      {user.labs.join(', ') || '—'}{' '}
                      <Button
                        variant="link"
                        isInline
                        onClick={() => setGranting(user)}
                        aria-label={t('Change the labs of {user}', { user: user.username })}
                      >
                        {t('Change')}
                      </Button>
                    </>
                  ) : (
                    '—'
                  )}
                </Cell>
                <Cell>{languageName(user.language)}</Cell>
                <Cell>{formatDate(user.createdAt)}</Cell>
                <Cell actions>
                  <Flex gap={{ default: 'gapSm' }} flexWrap={{ default: 'nowrap' }}>
                    <Button size="sm" variant="secondary" onClick={() => setResetting(user)}>
                      {t('Reset password')}
                    </Button>
                    {user.id !== me.id && (
                      <Button
                        size="sm"
                        variant="secondary"
                        onClick={() => void patch(user, { disabled: !user.disabled })}
                      >
                        {user.disabled ? t('Enable') : t('Disable')}
                      </Button>
                    )}
                    {user.id !== me.id && (
                      <ConfirmButton
                        text={t('Delete')}
                        title={t('Delete user {user}?', { user: user.username })}
                        onConfirm={() => api.del(`/users/${encodeURIComponent(user.id)}`)}
                      >
                        {t('They can no longer log in; the audit log keeps their name.')}
                      </ConfirmButton>
                    )}
                  </Flex>
                </Cell>
              </Row>
            ))}
          </Table>
        )}
      </PageSection>
      {adding && <AddUserModal labs={labs.data ?? []} onClose={() => setAdding(false)} />}
      {granting !== undefined && (
        <UserLabsModal
          user={granting}
          labs={labs.data ?? []}
          onClose={() => setGranting(undefined)}
        />
      )}
      {resetting !== undefined && (
        <PasswordModal user={resetting} onClose={() => setResetting(undefined)} />
      )}
    </>
  );
}
