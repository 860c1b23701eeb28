// Live updates: one EventSource on /api/v1/events shared by every component, and REST
// resources that re-load when the server says their topic changed. Nothing is replayed on
// (re)connect, so a reconnect re-loads every resource in view.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api } from './api';
import type { ChangedEvent, Job, MetricsEvent, Vm } from './types';

export interface LiveEvents {
  vm: Vm;
  job: Job;
  metrics: MetricsEvent;
  changed: ChangedEvent;
  /** Not from the server: the stream (re)opened, so anything may have changed. */
  open: Record<string, never>;
}
export type LiveEventType = keyof LiveEvents;

type Handler = (data: unknown) => void;
const handlers = new Map<LiveEventType, Set<Handler>>();
let source: EventSource | null = null;
let everOpened = false;

function dispatch(type: LiveEventType, data: unknown): void {
  handlers.get(type)?.forEach((handler) => handler(data));
}

function connect(): void {
  if (source !== null || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/v1/events', { withCredentials: true });
  const opened = source;
  opened.onerror = () => {
    // The browser retries a dropped stream itself, but gives up on an HTTP error (a
    // restarting server's 503): then try again a little later, while anyone listens.
    if (opened.readyState !== EventSource.CLOSED || source !== opened) return;
    source = null;
    // The server ends the stream when the session does; an EventSource cannot tell a 401
    // from an outage, so ask: a 401 here ends the session in the page (onUnauthorized).
    void api.get('/auth/session').catch(() => undefined);
    setTimeout(() => {
      if (source === null && [...handlers.values()].some((set) => set.size > 0)) connect();
    }, 5000);
  };
  source.onopen = () => {
    // The first open needs nothing: resources loaded themselves over REST.
    if (everOpened) dispatch('open', {});
    everOpened = true;
  };
  for (const type of ['vm', 'job', 'metrics', 'changed'] as const) {
    source.addEventListener(type, (event: MessageEvent<string>) => {
      try {
        dispatch(type, JSON.parse(event.data) as unknown);
      } catch {
        // A malformed message is dropped rather than breaking the stream.
      }
    });
  }
}

/** Closes the stream (at logout); the next subscriber opens it again. */
export function closeLive(): void {
  source?.close();
  source = null;
  everOpened = false;
}

export function useLiveEvent<K extends LiveEventType>(
  type: K,
  handler: (data: LiveEvents[K]) => void,
): void {
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => {
    const wrapped: Handler = (data) => latest.current(data as LiveEvents[K]);
    let set = handlers.get(type);
    if (set === undefined) handlers.set(type, (set = new Set()));
    set.add(wrapped);
    connect();
    return () => {
      set.delete(wrapped);
    };
  }, [type]);
}

export interface Resource<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Patch the data locally (e.g. from a `vm` event) until the next load. */
  setData: (update: (current: T | undefined) => T | undefined) => void;
}

/**
 * GET `path` (null: nothing to load yet), re-loaded when a `changed` event of one of
 * `topics` arrives (bursts coalesced) or the stream reconnects. Old data stays on screen
 * while a re-load runs.
 */
export function useResource<T>(path: string | null, topics: readonly string[]): Resource<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(path !== null);
  const [generation, setGeneration] = useState(0);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);

  useEffect(() => {
    if (path === null) {
      setLoading(false);
      return;
    }
    let current = true;
    setLoading(true);
    api.get<T>(path).then(
      (value) => {
        if (!current) return;
        setDataState(value);
        setError(undefined);
        setLoading(false);
      },
      (failure: unknown) => {
        if (!current) return;
        setError(failure);
        setLoading(false);
      },
    );
    return () => {
      current = false;
    };
  }, [path, generation]);

  useEffect(() => () => clearTimeout(timer.current), []);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const soon = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = setTimeout(reload, 150);
  }, [reload]);

  const topicKey = topics.join(',');
  useLiveEvent('changed', (event) => {
    if (topicKey.split(',').includes(event.topic)) soon();
  });
  useLiveEvent('open', soon);

  const setData = useCallback(
    (update: (current: T | undefined) => T | undefined) => setDataState(update),
    [],
  );
  return { data, error, loading: loading && data === undefined, reload, setData };
}
