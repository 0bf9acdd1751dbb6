"use client";
import { useRouter } from "next/navigation";
import { api, type PipelineSummary } from "@/lib/api";
import { ActionButton } from "./ActionButton";
import { runHref } from "./PipelineLink";

/** May the caller do `action` with this pipeline? (The server lists it in `permissions`.) */
export const allows = (pipeline: PipelineSummary, action: string) => (pipeline.permissions ?? []).includes(action);

/** Run now (then opens the new run), and Pause or Resume, for one pipeline — each only when the
 * caller's roles allow it (`runs.trigger`, `pipelines.pause`). */
export function PipelineActions({ pipeline, onChange, follow = true }: {
  pipeline: PipelineSummary; onChange: () => void; follow?: boolean;
}) {
  const router = useRouter();
  const name = pipeline.name;
  const trigger = allows(pipeline, "runs.trigger");
  const pause = allows(pipeline, "pipelines.pause");
  if (!trigger && !pause) return null;
  return (
    <span className="inline-flex gap-2" data-testid="pipeline-actions">
      {trigger && <ActionButton testid={`run-now-${name}`} label="Run now" tone="primary"
        disabled={pipeline.status === "error" && !pipeline.revision}
        action={() => api.trigger(name)}
        onDone={(run) => (follow ? router.push(runHref(run.id)) : onChange())} />}
      {pause && (pipeline.paused ? (
        <ActionButton testid={`resume-${name}`} label="Resume" action={() => api.resume(name)} onDone={onChange} />
      ) : (
        <ActionButton testid={`pause-${name}`} label="Pause" action={() => api.pause(name)} onDone={onChange} />
      ))}
    </span>
  );
}
