import Link from "next/link";
import { pipelineHref } from "./PipelineLink";

// dteg renders an error as "step `x` (pipeline.yaml:14): message" (dteg/errors.py, where()).
const WHERE = /^(?:step `([^`]+)`)?\s*\(?([^\s():]+\.ya?ml):(\d+)\)?:?\s*/;

export function parseWhere(error: string): { step?: string; file?: string; line?: number; rest: string } {
  const m = WHERE.exec(error);
  if (m && m[2]) return { step: m[1], file: m[2], line: Number(m[3]), rest: error.slice(m[0].length) };
  const step = /^step `([^`]+)`:\s*/.exec(error);
  if (step) return { step: step[1], rest: error.slice(step[0].length) };
  return { rest: error };
}

/** Why a run failed, with file:line linking to that line of the pipeline's file. */
export function RunError({ error, pipeline, retriable, canRetry = true }: {
  error: string; pipeline: string; retriable?: boolean | null; canRetry?: boolean;
}) {
  const retry = canRetry ? "press Retry" : "someone with the runs.trigger permission can retry it";
  const where = parseWhere(error);
  return (
    <div data-testid="run-error" className="mb-6 rounded-md border border-red-300 bg-red-50 p-4 text-sm text-red-900">
      <div className="mb-1 font-semibold">This run failed</div>
      {(where.file || where.step) && (
        <div className="mb-1 font-mono text-xs">
          {where.file && (
            <Link data-testid="error-location" className="underline" href={`${pipelineHref(pipeline)}#L${where.line}`}>
              {where.file}:{where.line}
            </Link>
          )}
          {where.step && <span data-testid="error-step"> step `{where.step}`</span>}
        </div>
      )}
      <div data-testid="error-message" className="whitespace-pre-wrap">{where.rest}</div>
      {retriable !== null && retriable !== undefined && (
        <div className="mt-2 text-xs text-red-800">
          {retriable ? `Retriable: running it again unchanged may help (${retry}).`
            : `Not retriable: fix the file or the data, then ${canRetry ? "press Retry" : "ask for a retry"}.`}
        </div>
      )}
    </div>
  );
}
