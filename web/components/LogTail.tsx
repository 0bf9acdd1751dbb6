"use client";
import { useEffect, useRef, useState } from "react";
import { refreshSession, runEventsUrl, type LogLine, type Run } from "@/lib/api";

/**
 * A run's log, followed live through its Server-Sent Events (`log` lines, `run` state
 * changes, `end`). Scrolls to the bottom while the reader is at the bottom. EventSource
 * reconnects by itself with Last-Event-ID, so no line is shown twice or lost.
 */
export function LogTail({ runId, onRun }: { runId: string; onRun: (run: Run) => void }) {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [state, setState] = useState<"connecting" | "live" | "ended" | "lost">("connecting");
  const box = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const onRunRef = useRef(onRun);
  onRunRef.current = onRun;

  useEffect(() => {
    setLines([]);
    setState("connecting");
    const seen = new Set<number>();
    let last = 0;
    let source: EventSource | null = null;
    let refreshed = false;
    let closed = false;
    const open = () => {
      const s = new EventSource(runEventsUrl(runId, last));
      source = s;
      s.onopen = () => setState("live");
      s.addEventListener("log", (e) => {
        const line = JSON.parse((e as MessageEvent).data) as LogLine;
        if (seen.has(line.id)) return;
        seen.add(line.id);
        last = Math.max(last, line.id);
        setLines((old) => [...old, line]);
      });
      s.addEventListener("run", (e) => onRunRef.current(JSON.parse((e as MessageEvent).data) as Run));
      s.addEventListener("end", (e) => {
        onRunRef.current(JSON.parse((e as MessageEvent).data) as Run);
        setState("ended");
        closed = true;
        s.close();
      });
      s.onerror = () => {
        // CONNECTING: EventSource retries by itself. CLOSED: the server refused the stream —
        // most likely the 15-minute session cookie expired: refresh it once and reconnect.
        if (s.readyState !== EventSource.CLOSED || closed) return;
        if (!refreshed) {
          refreshed = true;
          refreshSession().then((ok) => {
            if (closed) return;
            if (ok) open();
            else setState((st) => (st === "ended" ? st : "lost"));
          });
          return;
        }
        setState((st) => (st === "ended" ? st : "lost"));
      };
    };
    open();
    return () => { closed = true; source?.close(); };
  }, [runId]);

  useEffect(() => {
    if (stick.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);

  const levelColour = (level: string) =>
    level === "error" || level === "ERROR" ? "text-red-400"
      : level === "warning" || level === "WARNING" ? "text-amber-300" : "text-stone-300";

  return (
    <div>
      <div className="mb-1 text-xs text-stone-500" data-testid="log-state" data-state={state}>
        {state === "live" ? "● following the log" : state === "ended" ? "the run has ended"
          : state === "lost" ? "the log stream closed — reload to try again" : "connecting…"}
        {" · "}<span data-testid="log-count">{lines.length}</span> lines
      </div>
      <div ref={box} data-testid="log-tail"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
        }}
        className="h-72 overflow-auto rounded-md bg-stone-950 p-2 font-mono text-xs leading-5">
        {lines.length === 0 && (
          <div className="text-stone-500">{state === "ended" ? "This run wrote no log lines." : "Waiting for log lines…"}</div>
        )}
        {lines.map((l) => (
          <div key={l.id} data-testid="log-line" data-id={l.id} className={`whitespace-pre-wrap ${levelColour(l.level)}`}>
            <span className="text-stone-500">{new Date(l.at).toLocaleTimeString()} </span>
            {l.step && <span className="text-sky-300">[{l.step}] </span>}
            {l.message}
          </div>
        ))}
      </div>
    </div>
  );
}
