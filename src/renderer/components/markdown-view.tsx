import { parseMarkdown, type Inline } from '../format/markdown-blocks';

function Inlines({ parts }: { parts: Inline[] }) {
  return (
    <>
      {parts.map((p, i) =>
        p.kind === 'code' ? <code key={i}>{p.text}</code> : p.kind === 'strong' ? <strong key={i}>{p.text}</strong> : <span key={i}>{p.text}</span>,
      )}
    </>
  );
}

/** One of FGL's Markdown reports, rendered as document structure (text only, never HTML). */
export function MarkdownView({ markdown, label }: { markdown: string; label: string }) {
  return (
    <div className="report markdown" tabIndex={0} role="document" aria-label={label}>
      {parseMarkdown(markdown).map((b, i) => {
        switch (b.kind) {
          case 'heading': {
            // Inside a card whose own heading is an h2: report headings start one level below.
            const H = (['h3', 'h3', 'h4', 'h5'] as const)[b.level];
            return (
              <H key={i}>
                <Inlines parts={b.inline} />
              </H>
            );
          }
          case 'paragraph':
            return (
              <p key={i}>
                <Inlines parts={b.inline} />
              </p>
            );
          case 'quote':
            return (
              <blockquote key={i}>
                <Inlines parts={b.inline} />
              </blockquote>
            );
          case 'list':
            return (
              <ul key={i}>
                {b.items.map((it, j) => (
                  <li key={j}>
                    <Inlines parts={it} />
                  </li>
                ))}
              </ul>
            );
          case 'table':
            return (
              <table key={i} className="data-table">
                <thead>
                  <tr>
                    {b.head.map((c, j) => (
                      <th key={j} scope="col" className={b.align[j] === 'right' ? 'num' : undefined}>
                        <Inlines parts={c} />
                      </th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {b.rows.map((r, j) => (
                    <tr key={j}>
                      {r.map((c, k) => (
                        <td key={k} className={b.align[k] === 'right' ? 'num' : undefined}>
                          <Inlines parts={c} />
                        </td>
                      ))}
                    </tr>
                  ))}
                </tbody>
              </table>
            );
        }
      })}
    </div>
  );
}
