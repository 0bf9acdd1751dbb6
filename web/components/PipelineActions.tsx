"use client";
import { useRouter } from "next/navigation";
import { api, type PipelineSummary } from "@/lib/api";
import { ActionButton } from "./ActionButton";
import { runHref } from "./PipelineLink";

/** Run now (then opens the new run), and Pause or Resume, for one pipeline. */
export function PipelineActions({ pipeline, onChange, follow = true }: {
  pipeline: PipelineSummary; onChange: () => void; follow?: boolean;
}) {
  const router = useRouter();
  const name = pipeline.name;
  return (
    <span className="inline-flex gap-2">
      <ActionButton testid={`run-now-${name}`} label="Run now" tone="primary"
        disabled={pipeline.status === "error" && !pipeline.revision}
        action={() => api.trigger(name)}
        onDone={(run) => (follow ? router.push(runHref(run.id)) : onChange())} />
      {pipeline.paused ? (
        <ActionButton testid={`resume-${name}`} label="Resume" action={() => api.resume(name)} onDone={onChange} />
      ) : (
        <ActionButton testid={`pause-${name}`} label="Pause" action={() => api.pause(name)} onDone={onChange} />
      )}
    </span>
  );
}
