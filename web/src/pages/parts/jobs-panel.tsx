// Long operations on profiles (imports, clones, flattens) with their progress bars: those
// running on the server (whoever started them) and those started from this page.
import { Card, CardBody, CardTitle, Stack, StackItem } from '@patternfly/react-core';
import { JobProgress } from '../../components/job-progress';
import { useI18n } from '../../i18n';
import { useLiveEvent, useResource } from '../../live';
import type { Job } from '../../types';

interface Props {
  /** Jobs started from this page (shown until it is left, ended or not). */
  started: readonly Job[];
  /** Only this profile's jobs. */
  profileId?: string;
  onEnd?: (job: Job) => void;
}

export function JobsPanel({ started, profileId, onEnd }: Props) {
  const { t } = useI18n();
  const jobs = useResource<Job[]>('/jobs', ['jobs', 'profiles']);
  const ids = new Set(started.map((job) => job.id));
  const running = (jobs.data ?? []).filter((job) => job.state === 'running' && !ids.has(job.id));
  const shown = [...started, ...running].filter(
    (job) => profileId === undefined || job.targetId === profileId,
  );
  if (shown.length === 0) return null;
  return (
    <Card isCompact>
      <CardTitle>{t('Jobs')}</CardTitle>
      <CardBody>
        <Stack hasGutter>
          {shown.map((job) => (
            <StackItem key={job.id}>
              <JobProgress job={job} {...(onEnd !== undefined ? { onEnd } : {})} />
            </StackItem>
          ))}
        </Stack>
      </CardBody>
    </Card>
  );
}

/** Calls `reload` when a job about `profileId` (any profile if undefined) ends: a finished
 * import, clone or flatten adds a version, which no `changed` event announces. */
export function useReloadOnJobEnd(reload: () => void, profileId?: string): void {
  useLiveEvent('job', (job) => {
    if (job.state !== 'running' && (profileId === undefined || job.targetId === profileId))
      reload();
  });
}
