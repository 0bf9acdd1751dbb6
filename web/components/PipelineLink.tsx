import Link from "next/link";

export const pipelineHref = (name: string) => `/pipeline/?name=${encodeURIComponent(name)}`;
export const runHref = (id: string) => `/run/?id=${encodeURIComponent(id)}`;

export function PipelineLink({ name }: { name: string }) {
  return <Link href={pipelineHref(name)} data-testid="pipeline-link" className="font-medium text-blue-700 hover:underline">{name}</Link>;
}
