// A long operation's progress (image import, full clone, flatten) as a bar, live from `job`
// events; fetched once at first so a job that ended before the events reached us shows too.
import { useEffect, useRef, useState } from 'react';
import { Alert, Progress, ProgressMeasureLocation } from '@patternfly/react-core';
import { api } from '../api';
import { useI18n } from '../i18n';
import { useLiveEvent } from '../live';
import type { Job } from '../types';

interface Props {
  /** The job as the API answered when it was started (202). */
  job: Job;
  /** Called once when the job ends (succeeded or failed). */
  onEnd?: (job: Job) => void;
}

/** The job's progress (the API's 0-100) as a whole percentage for the bar. */
export function progressPercent(progress: number): number {
  return Math.round(Math.min(100, Math.max(0, progress)));
}

export function JobProgress({ job: started, onEnd }: Props) {
  const { t } = useI18n();
  const [job, setJob] = useState<Job>(started);

  useEffect(() => {
    let gone = false;
    api
      .get<Job>(`/jobs/${encodeURIComponent(started.id)}`)
      .then((fresh) => {
        if (!gone) setJob((current) => (current.state === 'running' ? fresh : current));
      })
      .catch(() => undefined);
    return () => {
      gone = true;
    };
  }, [started.id]);

  useLiveEvent('job', (data: Job) => {
    if (data.id === started.id) setJob(data);
  });

  // Once per end, not again for a new onEnd identity.
  const ended = job.state !== 'running';
  const reported = useRef(false);
  useEffect(() => {
    if (!ended || reported.current) return;
    reported.current = true;
    onEnd?.(job);
  }, [ended, job, onEnd]);

  const title =
    job.kind === 'import'
      ? t('Importing an image into {profile}', { profile: job.target })
      : job.kind === 'clone'
        ? t('Cloning {profile}', { profile: job.target })
        : job.kind === 'flatten'
          ? t('Flattening {profile}', { profile: job.target })
          : t('{kind} of {profile}', { kind: job.kind, profile: job.target });
  const value = job.state === 'succeeded' ? 100 : progressPercent(job.progress);
  return (
    <div>
      <Progress
        title={title}
        value={value}
        measureLocation={ProgressMeasureLocation.top}
        aria-label={title}
        {...(job.state === 'succeeded'
          ? { variant: 'success' as const }
          : job.state === 'failed'
            ? { variant: 'danger' as const }
            : {})}
      />
      {job.state === 'failed' && job.error !== null && (
        <Alert isInline variant="danger" title={t('The job failed')}>
          {job.error.detail}
        </Alert>
      )}
    </div>
  );
}
