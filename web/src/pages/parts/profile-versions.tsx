// A profile's version history: who made each, when, its note, size and chain depth; roll
// back to an older one, or delete one nothing depends on.
import { Label } from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import { useResource } from '../../live';
import { useSession } from '../../session';
import type { Profile, Version } from '../../types';
import { Empty, Loading } from '../common/empty';
import { ConfirmButton } from './confirm';
import { useReloadOnJobEnd } from './jobs-panel';
import { Cell, Row, Table } from './table';
import { useBytes } from './usage';

export function VersionHistory({ profile }: { profile: Profile }) {
  const { t, formatDate } = useI18n();
  const { can } = useSession();
  const size = useBytes();
  const base = `/profiles/${encodeURIComponent(profile.id)}`;
  const versions = useResource<Version[]>(`${base}/versions`, ['profiles']);
  useReloadOnJobEnd(versions.reload, profile.id);
  const list = [...(versions.data ?? [])].sort((a, b) => b.number - a.number);
  const parents = new Set(list.map((version) => version.parentVersion));
  const rollback = async (version: Version) => {
    await api.post<Version>(`${base}/rollback`, { version: version.id });
    versions.reload();
  };
  const remove = async (version: Version) => {
    await api.del(`${base}/versions/${encodeURIComponent(version.id)}`);
    versions.reload();
  };
  if (versions.loading) return <Loading />;
  return (
    <>
      <ProblemAlert error={versions.error} />
      {list.length === 0 ? (
        <Empty title={t('No versions yet')}>
          {t('Import an image to make the first version.')}
        </Empty>
      ) : (
        <Table
          label={t('Versions of {profile}', { profile: profile.name })}
          grow={1}
          columns={[
            t('Version'),
            t('Note'),
            t('Created'),
            t('By'),
            t('Size'),
            t('Chain depth'),
            '',
          ]}
        >
          {list.map((version) => (
            <Row key={version.id}>
              <Cell header>
                {t('version {number}', { number: version.number })}{' '}
                {version.published && (
                  <Label color="green" isCompact>
                    {t('published')}
                  </Label>
                )}
              </Cell>
              <Cell wrap>{version.note !== '' ? version.note : '—'}</Cell>
              <Cell>{formatDate(version.createdAt)}</Cell>
              <Cell>{version.createdBy ?? '—'}</Cell>
              <Cell>{size(version.sizeBytes)}</Cell>
              <Cell>{String(version.chainDepth)}</Cell>
              <Cell actions>
                {can('admin') && !version.published && (
                  <>
                    <ConfirmButton
                      text={t('Roll back')}
                      title={t('Roll back to version {number}?', { number: version.number })}
                      danger={false}
                      onConfirm={() => rollback(version)}
                    >
                      {t(
                        'Version {number} becomes the published one: VMs started from now on use it. Running VMs keep theirs.',
                        { number: version.number },
                      )}
                    </ConfirmButton>{' '}
                    <ConfirmButton
                      text={t('Delete')}
                      title={t('Delete version {number}?', { number: version.number })}
                      isDisabled={parents.has(version.id)}
                      onConfirm={() => remove(version)}
                    >
                      {t('Its image is removed for good.')}
                    </ConfirmButton>
                  </>
                )}
              </Cell>
            </Row>
          ))}
        </Table>
      )}
    </>
  );
}
