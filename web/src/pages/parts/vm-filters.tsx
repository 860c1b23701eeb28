// The VM list's filters (lab, host, profile, state, kind), kept in the query string so
// links can pre-filter (/vms?host=h1&state=active) and Back restores them.
import { Button, FormSelect, FormSelectOption, ToolbarItem } from '@patternfly/react-core';
import { useI18n } from '../../i18n';
import type { Vm } from '../../types';
import { isActive } from './states';

export const filterKeys = ['lab', 'host', 'profile', 'state', 'kind'] as const;
export type FilterKey = (typeof filterKeys)[number];
export type Filters = Partial<Record<FilterKey, string>>;

export function filtersFrom(query: URLSearchParams): Filters {
  const filters: Filters = {};
  for (const key of filterKeys) {
    const value = query.get(key);
    if (value !== null && value !== '') filters[key] = value;
  }
  return filters;
}

export function queryOf(filters: Filters): string {
  const query = new URLSearchParams();
  for (const key of filterKeys) {
    const value = filters[key];
    if (value !== undefined && value !== '') query.set(key, value);
  }
  const text = query.toString();
  return text === '' ? '' : `?${text}`;
}

/** The VMs that pass every filter; `labOf` maps a terminal's MAC to its lab's name. */
export function filterVms(
  vms: readonly Vm[],
  filters: Filters,
  labOf: (mac: string) => string | null,
): Vm[] {
  const { lab, host, profile, state, kind } = filters;
  return vms.filter(
    (vm) =>
      (lab === undefined || (vm.terminal !== null && labOf(vm.terminal) === lab)) &&
      (host === undefined || vm.host === host) &&
      (profile === undefined || vm.profile === profile || vm.profileId === profile) &&
      (kind === undefined || vm.kind === kind) &&
      (state === undefined ||
        vm.state === state ||
        (state === 'active' && isActive(vm.state)) ||
        (state === 'ended' && !isActive(vm.state))),
  );
}

interface SelectProps {
  label: string;
  value: string | undefined;
  options: readonly { value: string; label: string }[];
  onChange: (value: string | undefined) => void;
}

function FilterSelect({ label, value, options, onChange }: SelectProps) {
  const { t } = useI18n();
  return (
    <ToolbarItem>
      <FormSelect
        aria-label={label}
        value={value ?? ''}
        onChange={(_event, next) => onChange(next === '' ? undefined : next)}
        style={{ minWidth: '9rem' }}
      >
        <FormSelectOption value="" label={t('{filter}: all', { filter: label })} />
        {options.map((option) => (
          <FormSelectOption key={option.value} value={option.value} label={option.label} />
        ))}
      </FormSelect>
    </ToolbarItem>
  );
}

interface Props {
  filters: Filters;
  labs: readonly string[];
  hosts: readonly string[];
  profiles: readonly string[];
  onChange: (filters: Filters) => void;
}

export function VmFilters({ filters, labs, hosts, profiles, onChange }: Props) {
  const { t } = useI18n();
  const named = (names: readonly string[], current: string | undefined) =>
    [...new Set([...names, ...(current !== undefined ? [current] : [])])].map((name) => ({
      value: name,
      label: name,
    }));
  const set = (key: FilterKey) => (value: string | undefined) =>
    onChange(
      Object.fromEntries(
        Object.entries({ ...filters, [key]: value }).filter(([, v]) => v !== undefined),
      ) as Filters,
    );
  const states = [
    { value: 'active', label: t('active') },
    { value: 'running', label: t('running') },
    { value: 'starting', label: t('starting') },
    { value: 'stopping', label: t('stopping') },
    { value: 'ended', label: t('ended') },
    { value: 'stopped', label: t('stopped') },
    { value: 'crashed', label: t('crashed') },
    { value: 'failed', label: t('failed') },
  ];
  const kinds = [
    { value: 'client', label: t('client') },
    { value: 'admin', label: t('admin') },
  ];
  return (
    <>
      <FilterSelect
        label={t('Lab')}
        value={filters.lab}
        options={named(labs, filters.lab)}
        onChange={set('lab')}
      />
      <FilterSelect
        label={t('Host')}
        value={filters.host}
        options={named(hosts, filters.host)}
        onChange={set('host')}
      />
      <FilterSelect
        label={t('Profile')}
        value={filters.profile}
        options={named(profiles, filters.profile)}
        onChange={set('profile')}
      />
      <FilterSelect
        label={t('State')}
        value={filters.state}
        options={states}
        onChange={set('state')}
      />
      <FilterSelect label={t('Kind')} value={filters.kind} options={kinds} onChange={set('kind')} />
      {Object.keys(filters).length > 0 && (
        <ToolbarItem>
          <Button variant="link" onClick={() => onChange({})}>
            {t('Clear filters')}
          </Button>
        </ToolbarItem>
      )}
    </>
  );
}
