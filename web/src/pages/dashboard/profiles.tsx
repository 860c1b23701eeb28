// The dashboard's profiles: the published version's number and whether an admin session
// is open (one request per profile; the list is short), with the count of their VMs.
import { useEffect, useState } from 'react';
import { Card, CardBody, CardTitle, Label } from '@patternfly/react-core';
import { api } from '../../api';
import { useI18n } from '../../i18n';
import { useLiveEvent } from '../../live';
import { Link, pathTo } from '../../router';
import type { AdminSession, Profile, Version, Vm } from '../../types';
import { Empty, Loading } from '../common/empty';
import { Cell, Row, Table } from '../parts/table';

interface Extra {
  published: number | null;
  adminSession: boolean;
}

async function extraOf(profile: Profile): Promise<Extra> {
  const ref = encodeURIComponent(profile.id);
  const [versions, session] = await Promise.all([
    api.get<Version[]>(`/profiles/${ref}/versions`).catch(() => [] as Version[]),
    // 404: no session open (any other failure reads the same on a dashboard).
    api.get<AdminSession>(`/profiles/${ref}/admin-session`).then(
      () => true,
      () => false,
    ),
  ]);
  const published = versions.find((v) => v.published || v.id === profile.publishedVersion);
  return { published: published?.number ?? null, adminSession: session };
}

function useExtras(profiles: Profile[] | undefined): ReadonlyMap<string, Extra> {
  const [extras, setExtras] = useState<ReadonlyMap<string, Extra>>(new Map());
  const [generation, setGeneration] = useState(0);
  useLiveEvent('changed', (event) => {
    if (event.topic === 'profiles') setGeneration((g) => g + 1);
  });
  useEffect(() => {
    if (profiles === undefined) return;
    let current = true;
    void Promise.all(profiles.map(async (p) => [p.id, await extraOf(p)] as const)).then(
      (entries) => {
        if (current) setExtras(new Map(entries));
      },
    );
    return () => {
      current = false;
    };
  }, [profiles, generation]);
  return extras;
}

export function DashboardProfiles({
  profiles,
  vms,
}: {
  profiles: Profile[] | undefined;
  vms: Vm[];
}) {
  const { t, formatNumber } = useI18n();
  const extras = useExtras(profiles);
  return (
    <Card>
      <CardTitle component="h2">{t('Profiles')}</CardTitle>
      <CardBody>
        {profiles === undefined ? (
          <Loading />
        ) : profiles.length === 0 ? (
          <Empty title={t('No profiles yet')}>
            <Link to="/profiles">{t('Go to profiles')}</Link>
          </Empty>
        ) : (
          <Table
            label={t('Profiles')}
            columns={[t('Profile'), t('Published version'), t('Admin session'), t('VMs')]}
          >
            {profiles.map((profile) => {
              const extra = extras.get(profile.id);
              const count = vms.filter((vm) => vm.profileId === profile.id).length;
              return (
                <Row key={profile.id}>
                  <Cell header>
                    <Link to={pathTo('/profiles', profile.id)}>{profile.name}</Link>
                  </Cell>
                  <Cell>
                    {profile.publishedVersion === null ? (
                      <Label isCompact color="orange">
                        {t('not published')}
                      </Label>
                    ) : extra?.published != null ? (
                      t('version {number}', { number: extra.published })
                    ) : (
                      t('published')
                    )}
                  </Cell>
                  <Cell>
                    {extra?.adminSession ? (
                      <Label isCompact color="purple">
                        {t('open')}
                      </Label>
                    ) : (
                      <span className="lv-subtle">{t('none')}</span>
                    )}
                  </Cell>
                  <Cell>{formatNumber(count)}</Cell>
                </Row>
              );
            })}
          </Table>
        )}
      </CardBody>
    </Card>
  );
}
