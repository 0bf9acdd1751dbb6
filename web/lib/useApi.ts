"use client";
// One GET against the API, with loading / error / data and a reload(); optional polling.
import { useCallback, useEffect, useRef, useState } from "react";
import { ApiError, type ErrorBody } from "./api";

export interface Loaded<T> {
  data: T | undefined;
  error: ErrorBody | undefined;
  loading: boolean;
  reload: () => void;
}

export function useApi<T>(load: (() => Promise<T>) | null, deps: unknown[], pollMs = 0): Loaded<T> {
  const [data, setData] = useState<T>();
  const [error, setError] = useState<ErrorBody>();
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  useEffect(() => {
    const fn = loadRef.current;
    if (!fn) return;
    let live = true;
    fn().then(
      (value) => { if (live) { setData(value); setError(undefined); setLoading(false); } },
      (err: unknown) => {
        if (!live) return;
        setError(err instanceof ApiError ? err.body
          : { type: "internal", message: String(err), problems: [] });
        setLoading(false);
      },
    );
    return () => { live = false; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick]);

  useEffect(() => {
    if (!pollMs) return;
    const timer = setInterval(() => setTick((t) => t + 1), pollMs);
    return () => clearInterval(timer);
  }, [pollMs]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading: loading && data === undefined, reload };
}
