/** A pipeline file with line numbers (errors point at them); `highlight` marks a line. */
export function YamlView({ text, highlight }: { text: string; highlight?: number | null }) {
  const lines = text.replace(/\n$/, "").split("\n");
  return (
    <pre data-testid="yaml" className="max-h-[32rem] overflow-auto rounded-md bg-stone-950 py-2 text-xs leading-5 text-stone-100">
      {lines.map((line, i) => (
        <div key={i} id={`L${i + 1}`} className={`flex ${highlight === i + 1 ? "bg-red-900/60" : ""}`}>
          <span className="w-10 shrink-0 select-none pr-3 text-right text-stone-500">{i + 1}</span>
          <code className="whitespace-pre pr-4">{line || " "}</code>
        </div>
      ))}
    </pre>
  );
}
