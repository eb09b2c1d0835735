import { describe, expect, it } from 'vitest';
import { parseInline, parseMarkdown } from '../../src/renderer/format/markdown-blocks';

describe('the privacy report’s Markdown, parsed for rendering', () => {
  it('turns headings, paragraphs, lists and pipe tables into blocks', () => {
    const md = '# Report\n\nSome **bold** and `code`.\nSame paragraph.\n\n| # | class |\n| ---: | --- |\n| 1 | normal |\n\n- one\n- two\n';
    expect(parseMarkdown(md)).toEqual([
      { kind: 'heading', level: 1, inline: [{ kind: 'text', text: 'Report' }] },
      { kind: 'paragraph', inline: [{ kind: 'text', text: 'Some ' }, { kind: 'strong', text: 'bold' }, { kind: 'text', text: ' and ' }, { kind: 'code', text: 'code' }, { kind: 'text', text: '. Same paragraph.' }] },
      { kind: 'table', align: ['right', 'left'], head: [[{ kind: 'text', text: '#' }], [{ kind: 'text', text: 'class' }]], rows: [[[{ kind: 'text', text: '1' }], [{ kind: 'text', text: 'normal' }]]] },
      { kind: 'list', items: [[{ kind: 'text', text: 'one' }], [{ kind: 'text', text: 'two' }]] },
    ]);
  });

  it('keeps markup in report text as text (a class named <img onerror>)', () => {
    expect(parseInline('<img src=x onerror=alert(1)>')).toEqual([{ kind: 'text', text: '<img src=x onerror=alert(1)>' }]);
  });

  it('renders the tiny-models note as a quote, not as "> " text', () => {
    expect(parseMarkdown('> **Made with tiny models.**')).toEqual([{ kind: 'quote', inline: [{ kind: 'strong', text: 'Made with tiny models.' }] }]);
  });
});
