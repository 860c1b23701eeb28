// A lab's weekly timetable: rows of days, start, end and profile (saved as the API's slot
// text "mon-fri 08:00-10:00 PROFILE"), and what happens outside them.
import { useState } from 'react';
import {
  Alert,
  Button,
  Checkbox,
  Flex,
  FormSelect,
  FormSelectOption,
  TextInput,
} from '@patternfly/react-core';
import { api } from '../../api';
import { ProblemAlert } from '../../components/problem-alert';
import { useI18n } from '../../i18n';
import type { Lab, LabTimetable } from '../../types';
import { Cell, Row, Table } from '../parts/table';

const dayNames = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

interface SlotRow {
  key: number;
  days: ReadonlySet<string>;
  start: string;
  end: string;
  profile: string;
}

let nextKey = 1;

export function slotText(row: SlotRow): string {
  const days = dayNames.filter((day) => row.days.has(day)).join(',');
  return `${days} ${row.start.trim()}-${row.end.trim()} ${row.profile}`;
}

function useDayLabel(): (day: string) => string {
  const { t } = useI18n();
  const labels: Record<string, string> = {
    mon: t('Mon'),
    tue: t('Tue'),
    wed: t('Wed'),
    thu: t('Thu'),
    fri: t('Fri'),
    sat: t('Sat'),
    sun: t('Sun'),
  };
  return (day) => labels[day] ?? day;
}

export function TimetableEditor({
  lab,
  timetable,
  editable,
}: {
  lab: Lab;
  timetable: LabTimetable;
  editable: boolean;
}) {
  const { t } = useI18n();
  const dayLabel = useDayLabel();
  const initial = (): SlotRow[] =>
    timetable.slots.map((slot) => ({
      key: nextKey++,
      days: new Set(slot.days),
      start: slot.start,
      end: slot.end,
      profile: slot.profile,
    }));
  const [rows, setRows] = useState<SlotRow[]>(initial);
  const [outside, setOutside] = useState(timetable.outside);
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<unknown>(undefined);
  const [saved, setSaved] = useState(false);
  const profiles = lab.profiles;

  const change = (key: number, patch: Partial<SlotRow>) => {
    setSaved(false);
    setRows((current) => current.map((row) => (row.key === key ? { ...row, ...patch } : row)));
  };
  const add = () => {
    setSaved(false);
    setRows((current) => [
      ...current,
      {
        key: nextKey++,
        days: new Set(['mon', 'tue', 'wed', 'thu', 'fri']),
        start: '08:00',
        end: '14:00',
        profile: lab.defaultProfile ?? profiles[0] ?? '',
      },
    ]);
  };
  const save = async () => {
    setBusy(true);
    setProblem(undefined);
    try {
      await api.put(`/labs/${encodeURIComponent(lab.id)}/timetable`, {
        slots: rows.map(slotText),
        outside,
      });
      setSaved(true);
    } catch (error) {
      setProblem(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ProblemAlert error={problem} />
      {rows.length === 0 ? (
        <p className="pf-v6-u-mb-md">{t('No slots: the default profile applies all week.')}</p>
      ) : (
        <Table
          label={t('Timetable slots')}
          columns={[t('Days'), t('Start'), t('End'), t('Profile'), '']}
        >
          {rows.map((row, index) => (
            <Row key={row.key}>
              <Cell>
                <Flex gap={{ default: 'gapSm' }} flexWrap={{ default: 'nowrap' }}>
                  {dayNames.map((day) => (
                    <Checkbox
                      key={day}
                      id={`slot-${row.key}-${day}`}
                      label={dayLabel(day)}
                      aria-label={t('{day}, slot {number}', {
                        day: dayLabel(day),
                        number: index + 1,
                      })}
                      isChecked={row.days.has(day)}
                      isDisabled={!editable}
                      onChange={(_e, on) => {
                        const days = new Set(row.days);
                        if (on) days.add(day);
                        else days.delete(day);
                        change(row.key, { days });
                      }}
                    />
                  ))}
                </Flex>
              </Cell>
              <Cell>
                <TextInput
                  aria-label={t('Start, slot {number}', { number: index + 1 })}
                  value={row.start}
                  readOnlyVariant={editable ? undefined : 'plain'}
                  onChange={(_e, start) => change(row.key, { start })}
                  style={{ width: '5.5rem' }}
                />
              </Cell>
              <Cell>
                <TextInput
                  aria-label={t('End, slot {number}', { number: index + 1 })}
                  value={row.end}
                  readOnlyVariant={editable ? undefined : 'plain'}
                  onChange={(_e, end) => change(row.key, { end })}
                  style={{ width: '5.5rem' }}
                />
              </Cell>
              <Cell>
                <div style={{ minWidth: '10rem' }}>
                  <FormSelect
                    aria-label={t('Profile, slot {number}', { number: index + 1 })}
                    value={row.profile}
                    isDisabled={!editable}
                    onChange={(_e, profile) => change(row.key, { profile })}
                  >
                    {!profiles.includes(row.profile) && (
                      <FormSelectOption value={row.profile} label={row.profile || '—'} />
                    )}
                    {profiles.map((name) => (
                      <FormSelectOption key={name} value={name} label={name} />
                    ))}
                  </FormSelect>
                </div>
              </Cell>
              <Cell actions>
                {editable && (
                  <Button
                    variant="plain"
                    aria-label={t('Remove slot {number}', { number: index + 1 })}
                    onClick={() => {
                      setSaved(false);
                      setRows((current) => current.filter((r) => r.key !== row.key));
                    }}
                  >
                    ✕
                  </Button>
                )}
              </Cell>
            </Row>
          ))}
        </Table>
      )}
      <Flex alignItems={{ default: 'alignItemsCenter' }} className="pf-v6-u-mt-md">
        <label htmlFor="timetable-outside">{t('Outside the slots')}</label>
        <div style={{ width: '14rem' }}>
          <FormSelect
            id="timetable-outside"
            value={outside}
            isDisabled={!editable}
            onChange={(_e, value) => {
              setSaved(false);
              setOutside(value === 'closed' ? 'closed' : 'default');
            }}
          >
            <FormSelectOption value="default" label={t('the default profile')} />
            <FormSelectOption value="closed" label={t('closed (no VM)')} />
          </FormSelect>
        </div>
        {editable && (
          <>
            <Button variant="secondary" onClick={add} isDisabled={profiles.length === 0}>
              {t('Add slot')}
            </Button>
            <Button variant="primary" onClick={() => void save()} isLoading={busy}>
              {t('Save timetable')}
            </Button>
          </>
        )}
      </Flex>
      {editable && profiles.length === 0 && (
        <p className="pf-v6-u-mt-sm lv-subtle">
          {t('Choose the profiles the lab may use before adding slots.')}
        </p>
      )}
      {saved && (
        <Alert
          variant="success"
          isInline
          isPlain
          title={t('Timetable saved.')}
          className="pf-v6-u-mt-sm"
        />
      )}
    </>
  );
}
