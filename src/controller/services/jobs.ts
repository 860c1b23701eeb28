// Long operations (an import, a flatten, a full clone) run as jobs: the request that starts
// one is answered at once (202) with the job, and the job reports its progress (0-100), its
// state, the error code on failure and its result. Jobs live in this controller's memory
// only, for now: a restart forgets them (the store removes their partial files at start,
// see ImageStore.removePartialFiles), and with several controllers each knows its own.
import { randomUUID } from 'node:crypto';
import { isLabvirtError, LabvirtError, type ErrorCode } from '../../domain/errors.js';

export type JobState = 'running' | 'succeeded' | 'failed';
export type JobKind = 'import' | 'flatten' | 'clone';

/** What a job acts on: only who may see that may see the job. */
export interface JobTarget {
  readonly type: 'profile';
  readonly id: string;
  readonly name: string;
}

export interface JobView {
  readonly id: string;
  readonly kind: JobKind;
  readonly state: JobState;
  readonly progress: number;
  readonly targetType: JobTarget['type'];
  readonly targetId: string;
  readonly target: string;
  readonly startedBy: string | null;
  readonly startedAt: string;
  readonly finishedAt: string | null;
  readonly error: { readonly code: ErrorCode; readonly detail: string } | null;
  readonly result: unknown;
}

interface Job {
  readonly id: string;
  readonly kind: JobKind;
  readonly target: JobTarget;
  readonly startedBy: string | null;
  readonly startedAt: string;
  state: JobState;
  progress: number;
  finishedAt: string | null;
  error: LabvirtError | null;
  result: unknown;
  readonly done: Promise<void>;
  /** When listeners were last told of it (performance.now()), and a later telling due. */
  toldAt: number;
  tell: NodeJS.Timeout | undefined;
}

/** Told of each job's start, progress and end (the live events relay it). */
export type JobListener = (job: JobView) => void;

/** Progress is told at most this often per job; its start and end at once. */
const TELL_EVERY_MS = 250;

/** Finished jobs kept for GET /jobs (the oldest are forgotten first). */
const KEEP_FINISHED = 200;

export class JobRegistry {
  readonly #jobs = new Map<string, Job>();
  readonly #now: () => Date;
  readonly #onError: (error: unknown) => void;
  readonly #listeners = new Set<JobListener>();

  constructor(options: { now?: () => Date; onError?: (error: unknown) => void } = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#onError = options.onError ?? (() => undefined);
  }

  /**
   * Starts `run` as a job; `run` reports progress through its argument and resolves to the
   * job's result. An error that is not a LabvirtError is reported as INTERNAL (and logged).
   */
  start(
    kind: JobKind,
    target: JobTarget,
    startedBy: string | null,
    run: (progress: (percent: number) => void) => Promise<unknown>,
  ): string {
    const id = randomUUID();
    let resolveDone: () => void = () => undefined;
    const job: Job = {
      id,
      kind,
      target,
      startedBy,
      startedAt: this.#now().toISOString(),
      state: 'running',
      progress: 0,
      finishedAt: null,
      error: null,
      result: null,
      done: new Promise<void>((resolve) => (resolveDone = resolve)),
      toldAt: 0,
      tell: undefined,
    };
    this.#jobs.set(id, job);
    this.#tell(job);
    const progress = (percent: number) => {
      if (job.state !== 'running' || !Number.isFinite(percent)) return;
      // Never 100 before the result is recorded; never backwards.
      const before = job.progress;
      job.progress = Math.max(job.progress, Math.min(99.99, Math.max(0, percent)));
      if (job.progress !== before) this.#tellSoon(job);
    };
    void Promise.resolve()
      .then(() => run(progress))
      .then(
        (result) => {
          job.result = result ?? null;
          job.progress = 100;
          job.state = 'succeeded';
        },
        (error: unknown) => {
          if (!isLabvirtError(error) || error.status >= 500) this.#onError(error);
          job.error = isLabvirtError(error)
            ? error
            : new LabvirtError('INTERNAL', { requestId: id }, { cause: error });
          job.state = 'failed';
        },
      )
      .finally(() => {
        job.finishedAt = this.#now().toISOString();
        this.#tell(job);
        this.#prune();
        resolveDone();
      });
    return id;
  }

  /** Tells `listener` of every job's start, progress (4 times a second at most) and end. */
  onChange(listener: JobListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  #tell(job: Job): void {
    clearTimeout(job.tell);
    job.tell = undefined;
    job.toldAt = performance.now();
    if (this.#listeners.size === 0) return;
    const view = this.#view(job);
    for (const listener of this.#listeners) {
      try {
        listener(view);
      } catch (error) {
        this.#onError(error);
      }
    }
  }

  /** Progress: at once if the last telling is old enough, else once the interval is over. */
  #tellSoon(job: Job): void {
    if (job.tell !== undefined || this.#listeners.size === 0) return;
    const wait = job.toldAt + TELL_EVERY_MS - performance.now();
    if (wait <= 0) return this.#tell(job);
    job.tell = setTimeout(() => this.#tell(job), wait);
    job.tell.unref();
  }

  /** Every job, newest first. */
  list(): JobView[] {
    return [...this.#jobs.values()].reverse().map((job) => this.#view(job));
  }

  get(id: string): JobView | undefined {
    const job = this.#jobs.get(id);
    return job === undefined ? undefined : this.#view(job);
  }

  /** The job once it has finished (tests, and the CLI's waiting is over the API). */
  async settled(id: string): Promise<JobView> {
    const job = this.#jobs.get(id);
    if (job === undefined) throw new LabvirtError('JOB_NOT_FOUND', { job: id });
    await job.done;
    return this.#view(job);
  }

  /** Resolves when every running job has finished (a clean shutdown waits for them). */
  async idle(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map((job) => job.done));
  }

  /** The raw error of a failed job (for translation per request). */
  errorOf(id: string): LabvirtError | null {
    return this.#jobs.get(id)?.error ?? null;
  }

  #view(job: Job): JobView {
    return {
      id: job.id,
      kind: job.kind,
      state: job.state,
      progress: job.progress,
      targetType: job.target.type,
      targetId: job.target.id,
      target: job.target.name,
      startedBy: job.startedBy,
      startedAt: job.startedAt,
      finishedAt: job.finishedAt,
      error: job.error === null ? null : { code: job.error.code, detail: job.error.message },
      result: job.result,
    };
  }

  #prune(): void {
    const finished = [...this.#jobs.values()].filter((job) => job.state !== 'running');
    for (const job of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.#jobs.delete(job.id);
    }
  }
}
