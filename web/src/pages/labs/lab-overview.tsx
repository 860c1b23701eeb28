// A lab's facts: what applies now, time zone, profiles (default first), idle time-out,
// address pool and subnets; admins change the profiles and the pool from here.
import { useState } from 'react';
import {
  Button,
  Card,
  CardBody,
  CardTitle,
  DescriptionList,
  DescriptionListDescription,
  DescriptionListGroup,
  DescriptionListTerm,
  Label,
  LabelGroup,
} from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import { useSession } from '../../session';
import type { Lab, LabTimetable } from '../../types';
import { Availability } from '../labs';
import { AddressPoolModal } from './address-pool';
import { LabProfilesModal } from './lab-profiles';

function Item({ term, children }: { term: string; children: React.ReactNode }) {
  return (
    <DescriptionListGroup>
      <DescriptionListTerm>{term}</DescriptionListTerm>
      <DescriptionListDescription>{children}</DescriptionListDescription>
    </DescriptionListGroup>
  );
}

export function LabOverview({ lab, timetable }: { lab: Lab; timetable?: LabTimetable }) {
  const { t, tn, formatNumber } = useI18n();
  const { can } = useSession();
  const [editing, setEditing] = useState<'profiles' | 'pool' | undefined>(undefined);
  return (
    <Card isFullHeight>
      <CardTitle component="h2">{t('Overview')}</CardTitle>
      <CardBody>
        <DescriptionList isHorizontal isCompact>
          <Item term={t('Now')}>
            {timetable !== undefined ? <Availability lab={lab} timetable={timetable} /> : '—'}
          </Item>
          <Item term={t('Time zone')}>{lab.timezone}</Item>
          <Item term={t('Default profile')}>{lab.defaultProfile ?? '—'}</Item>
          <Item term={t('Profiles')}>
            {lab.profiles.length === 0 ? (
              '—'
            ) : (
              <LabelGroup numLabels={10}>
                {lab.profiles.map((name) => (
                  <Label key={name} isCompact color={name === lab.defaultProfile ? 'blue' : 'grey'}>
                    {name}
                  </Label>
                ))}
              </LabelGroup>
            )}{' '}
            {can('admin') && (
              <Button variant="link" isInline onClick={() => setEditing('profiles')}>
                {t('Change profiles')}
              </Button>
            )}
          </Item>
          <Item term={t('Idle time-out')}>
            {lab.idleMinutes === null
              ? t('never')
              : tn('{count} minute', '{count} minutes', lab.idleMinutes, {
                  count: lab.idleMinutes,
                })}
          </Item>
          <Item term={t('Address pool')}>
            {lab.addressPool ?? '—'}{' '}
            {can('admin') && (
              <Button variant="link" isInline onClick={() => setEditing('pool')}>
                {t('Change address pool')}
              </Button>
            )}
          </Item>
          <Item term={t('Subnets')}>{lab.subnets.length === 0 ? '—' : lab.subnets.join(', ')}</Item>
          <Item term={t('Terminals')}>{formatNumber(lab.terminals)}</Item>
        </DescriptionList>
      </CardBody>
      {editing === 'profiles' && (
        <LabProfilesModal lab={lab} onClose={() => setEditing(undefined)} />
      )}
      {editing === 'pool' && <AddressPoolModal lab={lab} onClose={() => setEditing(undefined)} />}
    </Card>
  );
}
