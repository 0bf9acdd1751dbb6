// Markdown to React elements, never to an HTML string: the text of a component's docs comes
// from its publisher, so raw HTML in it shows as text, and only http(s), mailto and in-page
// links become links (a `javascript:` link stays plain text). Covers what component docs use:
// headings, paragraphs, lists, fenced code, block quotes, rules, tables, and inline code,
// bold, italic and links.
import type { ReactNode } from "react";

const SAFE_LINK = /^(https?:\/\/|mailto:|#)/i;

function inline(text: string, key: string): ReactNode[] {
  const out: ReactNode[] = [];
  // code | **bold** | *italic* / _italic_ | ![alt](src) | [text](href)
  // (`_` emphasis only between word boundaries, as CommonMark: `snake_case_name` stays.)
  const pattern = /(`+)([^`]+?)\1|\*\*([^*]+)\*\*|(?<!\w)__([^_]+)__(?!\w)|\*([^*\s][^*]*)\*|(?<!\w)_([^_\s][^_]*)_(?!\w)|!\[([^\]]*)\]\(([^)\s]*)[^)]*\)|\[([^\]]+)\]\(([^)\s]*)[^)]*\)/g;
  let last = 0;
  let n = 0;
  for (const m of text.matchAll(pattern)) {
    const at = m.index ?? 0;
    if (at > last) out.push(text.slice(last, at));
    const k = `${key}-${n++}`;
    if (m[2] !== undefined) out.push(<code key={k} className="rounded bg-stone-100 px-1 font-mono text-[0.85em]">{m[2]}</code>);
    else if (m[3] !== undefined || m[4] !== undefined) out.push(<strong key={k}>{inline(m[3] ?? m[4], k)}</strong>);
    else if (m[5] !== undefined || m[6] !== undefined) out.push(<em key={k}>{inline(m[5] ?? m[6], k)}</em>);
    else if (m[7] !== undefined) out.push(<span key={k} className="text-stone-500">[image: {m[7] || m[8]}]</span>);
    else if (m[9] !== undefined) {
      const href = m[10];
      out.push(SAFE_LINK.test(href)
        ? <a key={k} href={href} rel="noopener noreferrer nofollow" target={href.startsWith("#") ? undefined : "_blank"} className="text-blue-700 underline">{inline(m[9], k)}</a>
        : <span key={k} data-testid="md-unsafe-link">{m[9]}</span>);
    }
    last = at + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

type Block =
  | { kind: "heading"; level: number; text: string }
  | { kind: "code"; lang: string; text: string }
  | { kind: "list"; ordered: boolean; items: string[] }
  | { kind: "quote"; text: string }
  | { kind: "rule" }
  | { kind: "table"; head: string[]; rows: string[][] }
  | { kind: "para"; text: string };

const cells = (line: string) => line.trim().replace(/^\||\|$/g, "").split("|").map((c) => c.trim());

export function parseBlocks(source: string): Block[] {
  const lines = source.replace(/\r\n?/g, "\n").split("\n");
  const blocks: Block[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    const fence = line.match(/^\s*(```|~~~)\s*([\w+-]*)/);
    if (fence) {
      const body: string[] = [];
      i++;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      blocks.push({ kind: "code", lang: fence[2], text: body.join("\n") });
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*?)\s*#*\s*$/);
    if (heading) { blocks.push({ kind: "heading", level: heading[1].length, text: heading[2] }); i++; continue; }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) { blocks.push({ kind: "rule" }); i++; continue; }
    if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?[\s:|-]+\|?\s*$/.test(lines[i + 1]) && lines[i + 1].includes("-")) {
      const head = cells(line);
      const rows: string[][] = [];
      i += 2;
      while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) rows.push(cells(lines[i++]));
      blocks.push({ kind: "table", head, rows });
      continue;
    }
    const item = line.match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
    if (item) {
      const ordered = /\d/.test(item[1]);
      const items: string[] = [];
      while (i < lines.length) {
        const m = lines[i].match(/^\s*([-*+]|\d+[.)])\s+(.*)$/);
        if (m) { items.push(m[2]); i++; }
        else if (lines[i].trim() && /^\s{2,}/.test(lines[i]) && items.length) { items[items.length - 1] += ` ${lines[i].trim()}`; i++; }
        else break;
      }
      blocks.push({ kind: "list", ordered, items });
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body: string[] = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      blocks.push({ kind: "quote", text: body.join(" ") });
      continue;
    }
    if (!line.trim()) { i++; continue; }
    const para: string[] = [];
    while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|\s*(```|~~~)|\s*>|\s*([-*+]|\d+[.)])\s)/.test(lines[i])) para.push(lines[i++].trim());
    if (para.length === 0) para.push(lines[i++].trim());
    blocks.push({ kind: "para", text: para.join(" ") });
  }
  return blocks;
}

const HEADING = ["text-xl", "text-lg", "text-base", "text-sm", "text-sm", "text-sm"];

export function Markdown({ source, testid = "markdown" }: { source: string; testid?: string }) {
  return (
    <div data-testid={testid} className="space-y-3 text-sm leading-6 text-stone-800">
      {parseBlocks(source).map((b, i) => {
        const k = `b${i}`;
        switch (b.kind) {
          case "heading": {
            const cls = `${HEADING[b.level - 1]} font-semibold text-stone-900`;
            if (b.level === 1) return <h3 key={k} className={cls}>{inline(b.text, k)}</h3>;
            if (b.level === 2) return <h4 key={k} className={cls}>{inline(b.text, k)}</h4>;
            return <h5 key={k} className={cls}>{inline(b.text, k)}</h5>;
          }
          case "code":
            return <pre key={k} data-lang={b.lang || undefined} className="overflow-x-auto rounded-md bg-stone-900 p-3 font-mono text-xs text-stone-100"><code>{b.text}</code></pre>;
          case "list": {
            const items = b.items.map((t, j) => <li key={j}>{inline(t, `${k}-${j}`)}</li>);
            return b.ordered ? <ol key={k} className="list-decimal pl-6">{items}</ol> : <ul key={k} className="list-disc pl-6">{items}</ul>;
          }
          case "quote":
            return <blockquote key={k} className="border-l-4 border-stone-300 pl-3 text-stone-600">{inline(b.text, k)}</blockquote>;
          case "rule":
            return <hr key={k} className="border-stone-200" />;
          case "table":
            return (
              <div key={k} className="overflow-x-auto">
                <table className="text-left text-xs">
                  <thead className="border-b"><tr>{b.head.map((h, j) => <th key={j} className="py-1 pr-4 font-semibold">{inline(h, `${k}h${j}`)}</th>)}</tr></thead>
                  <tbody>{b.rows.map((r, j) => <tr key={j} className="border-b border-stone-100">{r.map((c, x) => <td key={x} className="py-1 pr-4">{inline(c, `${k}r${j}c${x}`)}</td>)}</tr>)}</tbody>
                </table>
              </div>
            );
          default:
            return <p key={k}>{inline(b.text, k)}</p>;
        }
      })}
    </div>
  );
}
